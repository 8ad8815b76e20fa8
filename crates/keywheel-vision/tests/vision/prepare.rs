//! Good inputs of every supported kind come out upright, scaled, flattened, tiled and
//! encoded as promised.

use crate::common::*;
use image::{DynamicImage, GenericImageView, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use keywheel_vision::{Format, PrepOptions, Prepared, plan_requests, prepare};

fn opts() -> PrepOptions {
    PrepOptions::default()
}

fn only(p: &Prepared) -> (String, DynamicImage) {
    assert_eq!(p.tiles.len(), 1, "expected one tile");
    let t = &p.tiles[0];
    assert_eq!((t.index, t.of), (0, 1));
    let (mime, img) = decode_data_url(&t.data_url);
    assert_eq!(mime, t.mime);
    assert_eq!((img.width(), img.height()), (t.width, t.height));
    (mime, img)
}

fn luma(img: &DynamicImage, x: u32, y: u32) -> u8 {
    img.to_luma8().get_pixel(x, y).0[0]
}

#[test]
fn exif_orientation_6_comes_out_upright_with_swapped_sides() {
    // Stored 400×200: top half black, bottom half white. Orientation 6 means "rotate 90°
    // clockwise to view", so upright it is 200×400 with the black half on the right.
    let stored = RgbImage::from_fn(400, 200, |_, y| {
        if y < 100 {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        }
    });
    let jpg = with_exif_orientation(&jpeg(&stored, 90), 6);
    assert_eq!(keywheel_vision::sniff(&jpg), Some(Format::Jpeg));
    let p = prepare("rotated.jpg", &jpg, &opts()).unwrap();
    assert_eq!((p.source_width, p.source_height), (200, 400));
    let (_, img) = only(&p);
    assert_eq!((img.width(), img.height()), (200, 400));
    assert!(luma(&img, 180, 200) < 40, "right side should be black");
    assert!(luma(&img, 20, 200) > 215, "left side should be white");
}

#[test]
fn exif_orientation_survives_downscaling() {
    // Large enough to be DCT-scaled and resized: 2400×1600 stored, orientation 8
    // (rotate 90° counter-clockwise): upright 1600×2400 → 747×1120.
    let stored = RgbImage::from_fn(2400, 1600, |_, y| {
        if y < 800 {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        }
    });
    let jpg = with_exif_orientation(&jpeg(&stored, 85), 8);
    let p = prepare("rotated-big.jpg", &jpg, &opts()).unwrap();
    let (_, img) = only(&p);
    assert_eq!((img.width(), img.height()), (747, 1120));
    // Counter-clockwise: the stored top (black) ends up on the left.
    assert!(luma(&img, 50, 560) < 40);
    assert!(luma(&img, 700, 560) > 215);
}

#[test]
fn big_photo_fits_1120_keeping_its_aspect() {
    let jpg = jpeg(&photo(4000, 3000), 90);
    let p = prepare("photo.jpg", &jpg, &opts()).unwrap();
    assert_eq!((p.source_width, p.source_height), (4000, 3000));
    assert_eq!(plan_requests(&p), 1);
    let (mime, img) = only(&p);
    assert_eq!(mime, "image/jpeg", "a photo is sent as JPEG");
    assert!(img.width().max(img.height()) <= 1120);
    assert_eq!(img.width(), 1120);
    assert!(
        (i64::from(img.height()) - 840).abs() <= 1,
        "{}",
        img.height()
    );
    // The colours survive (left edge red-ish low, right edge high).
    let left = img.get_pixel(5, 420).0[0];
    let right = img.get_pixel(1115, 420).0[0];
    assert!(right > left + 100, "{left} {right}");
}

#[test]
fn small_images_are_never_upscaled() {
    let p = prepare("tiny.png", &png_rgb(&screenshot(300, 120)), &opts()).unwrap();
    let (_, img) = only(&p);
    assert_eq!((img.width(), img.height()), (300, 120));
}

#[test]
fn transparency_is_flattened_onto_white() {
    let mut rgba = RgbaImage::from_pixel(200, 100, Rgba([200, 30, 30, 255]));
    for y in 0..100 {
        for x in 0..100 {
            rgba.put_pixel(x, y, Rgba([0, 0, 0, 0])); // transparent black
        }
    }
    let png = encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png);
    let p = prepare("logo.png", &png, &opts()).unwrap();
    let (_, img) = only(&p);
    assert_eq!(img.to_rgb8().get_pixel(50, 50).0, [255, 255, 255]);
    assert_eq!(img.to_rgb8().get_pixel(150, 50).0, [200, 30, 30]);
}

#[test]
fn sixteen_bit_png() {
    let img = image::ImageBuffer::from_fn(64, 64, |x, _| {
        image::Rgb([x as u16 * 1000, 30000u16, 65535u16])
    });
    let png = encode(&DynamicImage::ImageRgb16(img), ImageFormat::Png);
    let p = prepare("deep.png", &png, &opts()).unwrap();
    let (_, out) = only(&p);
    let px = out.to_rgb8().get_pixel(63, 10).0;
    assert!(
        (i32::from(px[0]) - 246).abs() <= 2 && px[2] == 255,
        "{px:?}"
    );
}

#[test]
fn sixteen_bit_grey_with_alpha_png() {
    let img = image::ImageBuffer::from_fn(32, 32, |x, _| {
        image::LumaA([0u16, if x < 16 { 0 } else { 65535 }])
    });
    let png = encode(&DynamicImage::ImageLumaA16(img), ImageFormat::Png);
    let (_, out) = only(&prepare("grey16a.png", &png, &opts()).unwrap());
    assert_eq!(luma(&out, 5, 5), 255, "transparent part is white");
    assert_eq!(luma(&out, 25, 5), 0, "opaque black stays black");
}

#[test]
fn greyscale_png_and_jpeg() {
    let grey = image::GrayImage::from_fn(100, 50, |x, _| Luma([(x * 2) as u8]));
    let png = encode(&DynamicImage::ImageLuma8(grey.clone()), ImageFormat::Png);
    let (mime, out) = only(&prepare("grey.png", &png, &opts()).unwrap());
    assert_eq!(mime, "image/png");
    assert_eq!(
        out.color(),
        image::ColorType::L8,
        "grey stays grey (smaller)"
    );
    assert_eq!(luma(&out, 50, 10), 100);

    let mut jpg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpg, 90)
        .encode(grey.as_raw(), 100, 50, jpeg_encoder::ColorType::Luma)
        .unwrap();
    let (_, out) = only(&prepare("grey.jpg", &jpg, &opts()).unwrap());
    assert!((i32::from(luma(&out, 50, 10)) - 100).abs() <= 3);
}

#[test]
fn indexed_colour_png() {
    let palette = [[255, 255, 255], [0, 0, 255], [255, 0, 0]];
    let indices: Vec<u8> = (0..40 * 20).map(|i| ((i % 40) / 14) as u8).collect();
    let png = palette_png(40, 20, &palette, &indices);
    let p = prepare("indexed.png", &png, &opts()).unwrap();
    let (mime, out) = only(&p);
    assert_eq!(mime, "image/png");
    let rgb = out.to_rgb8();
    assert_eq!(rgb.get_pixel(2, 2).0, [255, 255, 255]);
    assert_eq!(rgb.get_pixel(20, 2).0, [0, 0, 255]);
    assert_eq!(rgb.get_pixel(35, 2).0, [255, 0, 0]);
}

#[test]
fn animated_gif_gives_its_first_frame() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame};
    let red = RgbaImage::from_pixel(60, 40, Rgba([255, 0, 0, 255]));
    let blue = RgbaImage::from_pixel(60, 40, Rgba([0, 0, 255, 255]));
    let mut gif = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut gif);
        for f in [red, blue] {
            enc.encode_frame(Frame::from_parts(
                f,
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            ))
            .unwrap();
        }
    }
    let p = prepare("anim.gif", &gif, &opts()).unwrap();
    assert_eq!(p.source_format, Format::Gif);
    let (_, out) = only(&p);
    let px = out.to_rgb8().get_pixel(30, 20).0;
    assert!(px[0] > 240 && px[2] < 20, "first frame is red, got {px:?}");
}

#[test]
fn bmp_tiff_and_webp_prepare() {
    let img = DynamicImage::ImageRgb8(screenshot(320, 200));
    for (format, name, expected) in [
        (ImageFormat::Bmp, "shot.bmp", Format::Bmp),
        (ImageFormat::Tiff, "shot.tiff", Format::Tiff),
        (ImageFormat::WebP, "shot.webp", Format::WebP),
    ] {
        let bytes = encode(&img, format);
        let p = prepare(name, &bytes, &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.source_format, expected);
        assert_eq!((p.source_width, p.source_height), (320, 200));
        let (mime, out) = only(&p);
        assert_eq!(mime, "image/png", "{name}");
        assert_eq!(out.to_rgb8(), img.to_rgb8(), "{name}: lossless all the way");
    }
}

#[test]
fn cmyk_jpeg_is_converted() {
    // Pure red in CMYK: no cyan, full magenta and yellow, no black.
    let cmyk: Vec<u8> = (0..64 * 32).flat_map(|_| [0u8, 255, 255, 0]).collect();
    let mut jpg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpg, 95)
        .encode(&cmyk, 64, 32, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    let (_, out) = only(&prepare("print.jpg", &jpg, &opts()).unwrap());
    let px = out.to_rgb8().get_pixel(32, 16).0;
    assert!(
        px[0] > 230 && px[1] < 30 && px[2] < 30,
        "expected red, got {px:?}"
    );
}

#[test]
fn tall_screenshot_is_tiled_in_reading_order() {
    let shot = screenshot(1080, 6000);
    let png = png_rgb(&shot);
    let p = prepare("scroll.png", &png, &opts()).unwrap();
    assert!(p.tiles.len() >= 3, "{} tiles", p.tiles.len());
    assert_eq!(plan_requests(&p), p.tiles.len());
    let mut prev_y = None;
    for (i, t) in p.tiles.iter().enumerate() {
        assert_eq!((t.index, t.of), (i, p.tiles.len()));
        assert!(
            t.width <= 1120 && t.height <= 1120,
            "{}x{}",
            t.width,
            t.height
        );
        assert_eq!(t.mime, "image/png");
        if let Some(py) = prev_y {
            assert!(t.region.y > py, "tiles go top to bottom");
        }
        prev_y = Some(t.region.y);
        // Each tile shows its region of the source, unscaled here (1080 px wide fits).
        let (_, img) = decode_data_url(&t.data_url);
        assert_eq!((img.width(), img.height()), (t.width, t.height));
        let src = shot.view(0, t.region.y, 1080, t.region.height).to_image();
        assert_eq!(img.to_rgb8(), src, "tile {i} shows rows {}..", t.region.y);
    }
    let last = p.tiles.last().unwrap();
    assert_eq!(
        last.region.y + last.region.height,
        6000,
        "the bottom is covered"
    );
    // Neighbours overlap by at least 10 %.
    for w in p.tiles.windows(2) {
        let overlap = (w[0].region.y + w[0].region.height) as i64 - w[1].region.y as i64;
        assert!(
            overlap as f64 >= 0.1 * w[0].region.height as f64 - 1.0,
            "overlap {overlap}"
        );
    }
}

#[test]
fn tiling_can_be_switched_off() {
    let png = png_rgb(&screenshot(1080, 6000));
    let p = prepare(
        "scroll.png",
        &png,
        &PrepOptions {
            tile: false,
            ..opts()
        },
    )
    .unwrap();
    let (_, img) = only(&p);
    assert_eq!(img.height(), 1120);
    assert_eq!(img.width(), 202); // 1080 × 1120 / 6000
}

#[test]
fn screenshot_is_png_and_photo_is_jpeg() {
    let p = prepare("shot.png", &png_rgb(&screenshot(1920, 1080)), &opts()).unwrap();
    assert_eq!(only(&p).0, "image/png");
    // A photo stays JPEG even when it arrives as PNG.
    let p = prepare("photo.png", &png_rgb(&photo(1600, 1200)), &opts()).unwrap();
    assert_eq!(only(&p).0, "image/jpeg");
}

#[test]
fn data_url_fits_the_budget() {
    let png = png_rgb(&photo(2000, 1500));
    for budget in [4_000_000, 150_000, 40_000] {
        let o = PrepOptions {
            max_data_url_bytes: budget,
            ..opts()
        };
        let p = prepare("photo.png", &png, &o).unwrap();
        for t in &p.tiles {
            assert!(
                t.data_url.len() <= budget,
                "{} > {budget}",
                t.data_url.len()
            );
            assert!(t.data_url.starts_with("data:image/jpeg;base64,"));
        }
    }
    // A noisy screenshot-sized graphic whose PNG would be too big falls back to JPEG.
    let noisy_graphic = RgbImage::from_fn(1000, 1000, |x, y| {
        if (x / 50 + y / 50) % 2 == 0 {
            Rgb([255, 255, 255])
        } else {
            Rgb([
                (x * 7 % 256) as u8,
                (y * 13 % 256) as u8,
                ((x * y) % 256) as u8,
            ])
        }
    });
    let o = PrepOptions {
        max_data_url_bytes: 300_000,
        ..opts()
    };
    let p = prepare("mixed.png", &png_rgb(&noisy_graphic), &o).unwrap();
    assert!(p.tiles[0].data_url.len() <= 300_000);
}

#[test]
fn content_hash_is_the_sha256_of_the_original_bytes() {
    let png = png_rgb(&screenshot(100, 80));
    let a = prepare("a.png", &png, &opts()).unwrap();
    let b = prepare("renamed.png", &png, &opts()).unwrap();
    assert_eq!(a.content_hash, b.content_hash);
    assert_eq!(a.content_hash.len(), 64);
    assert!(
        a.content_hash
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    let mut other = png.clone();
    other.push(0); // trailing byte: same picture, different file
    let c = prepare("a.png", &other, &opts()).unwrap();
    assert_ne!(a.content_hash, c.content_hash);
    use sha2::Digest;
    assert_eq!(a.content_hash, hex::encode(sha2::Sha256::digest(&png)));
}

#[test]
fn output_is_deterministic() {
    let jpg = jpeg(&photo(1500, 1000), 90);
    let a = prepare("p.jpg", &jpg, &opts()).unwrap();
    let b = prepare("p.jpg", &jpg, &opts()).unwrap();
    assert_eq!(a.tiles[0].data_url, b.tiles[0].data_url);
}

#[test]
fn prepared_serialises_for_the_ui() {
    let p = prepare("s.png", &png_rgb(&screenshot(50, 40)), &opts()).unwrap();
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["source_format"], "png");
    assert_eq!(json["tiles"][0]["mime"], "image/png");
    assert_eq!(json["tiles"][0]["region"]["width"], 50);
}

#[test]
fn rotated_dct_scaled_jpeg_tiles_in_upright_reading_order() {
    // Stored 2400×600 with orientation 6 (rotate 90° clockwise): upright 600×2400, whose
    // top is the stored left edge. With max_side 280, bands are scaled by 0.467, so the
    // JPEG is decoded at 1/2 straight from the DCT and the bands are cut from that.
    let stored = RgbImage::from_fn(2400, 600, |x, _| {
        if x < 600 {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        }
    });
    let jpg = with_exif_orientation(&jpeg(&stored, 90), 6);
    let o = PrepOptions {
        max_side: 280,
        ..opts()
    };
    let p = prepare("receipt.jpg", &jpg, &o).unwrap();
    assert_eq!((p.source_width, p.source_height), (600, 2400));
    assert_eq!(p.tiles.len(), 5);
    for t in &p.tiles {
        assert_eq!((t.width, t.height), (280, 280));
        assert_eq!((t.region.x, t.region.width, t.region.height), (0, 600, 600));
    }
    let mean = |i: usize| {
        let (_, img) = decode_data_url(&p.tiles[i].data_url);
        let l = img.to_luma8();
        l.pixels().map(|p| u64::from(p.0[0])).sum::<u64>() / u64::from(l.width() * l.height())
    };
    assert!(
        mean(0) < 20,
        "the first band is the black top, mean {}",
        mean(0)
    );
    assert!(mean(4) > 235, "the last band is white, mean {}", mean(4));
}

/// A lossless WebP of `img` with an `EXIF` chunk stating `orientation` (after the bitstream,
/// where exiftool and libwebp's `webpmux` put it).
fn webp_with_exif_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut webp = encode(&DynamicImage::ImageRgb8(img.clone()), ImageFormat::WebP);
    let jpeg_with_exif = with_exif_orientation(&[0xFF, 0xD8], orientation);
    // The APP1 body after its length: "Exif\0\0" + TIFF.
    let exif = &jpeg_with_exif[6..];
    webp.extend_from_slice(b"EXIF");
    webp.extend_from_slice(&(exif.len() as u32).to_le_bytes());
    webp.extend_from_slice(exif);
    if exif.len() % 2 == 1 {
        webp.push(0);
    }
    let riff = (webp.len() - 8) as u32;
    webp[4..8].copy_from_slice(&riff.to_le_bytes());
    webp
}

#[test]
fn webp_with_exif_orientation_6_comes_out_upright() {
    let stored = RgbImage::from_fn(400, 200, |_, y| {
        if y < 100 {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        }
    });
    let webp = webp_with_exif_orientation(&stored, 6);
    assert_eq!(keywheel_vision::sniff(&webp), Some(Format::WebP));
    let p = prepare("portrait.webp", &webp, &opts()).unwrap();
    assert_eq!((p.source_width, p.source_height), (200, 400));
    let (_, img) = only(&p);
    // Upright, the black half is on the right.
    assert!(luma(&img, img.width() - 5, img.height() / 2) < 40);
    assert!(luma(&img, 5, img.height() / 2) > 215);
}

#[test]
fn each_page_of_a_multi_page_tiff_is_its_own_prepared_image() {
    if !std::path::Path::new("/usr/bin/convert").exists() && which("convert").is_none() {
        eprintln!("skipped: pages after the first need ImageMagick");
        return;
    }
    let mut bytes = std::io::Cursor::new(Vec::new());
    {
        let mut enc = tiff::encoder::TiffEncoder::new(&mut bytes).unwrap();
        for (w, h, v) in [(64u32, 32u32, 0u8), (32, 64, 128), (40, 40, 255)] {
            let data = vec![v; (w * h) as usize];
            enc.write_image::<tiff::encoder::colortype::Gray8>(w, h, &data)
                .unwrap();
        }
    }
    let pages = keywheel_vision::prepare_pages("scan.tif", bytes.get_ref(), &opts()).unwrap();
    assert_eq!(pages.len(), 3);
    let sizes: Vec<_> = pages
        .iter()
        .map(|p| (p.source_width, p.source_height))
        .collect();
    assert_eq!(sizes, vec![(64, 32), (32, 64), (40, 40)]);
    for (n, p) in pages.iter().enumerate() {
        let page = p.page.expect("a page number");
        assert_eq!((page.number, page.of), (n + 1, 3));
        assert!(p.content_hash.ends_with(&format!(":p{}", n + 1)));
    }
    let (_, third) = only(&pages[2]);
    assert!(luma(&third, 20, 20) > 250);
    // A single image has no page number and the plain hash.
    let png = png_rgb(&photo(32, 32));
    let one = keywheel_vision::prepare_pages("one.png", &png, &opts()).unwrap();
    assert_eq!(one.len(), 1);
    assert!(one[0].page.is_none());
    assert_eq!(one[0].content_hash.len(), 64);
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// PSNR in dB between two equally sized 8-bit RGB images.
fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let mse = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.as_raw().len() as f64;
    10.0 * (255.0 * 255.0 / mse).log10()
}

#[test]
fn a_big_photo_comes_out_close_to_its_source_scaled_the_slow_way() {
    // A 3000×2250 photo (decoded at 3/8 by libjpeg-turbo, resized, re-encoded by
    // libjpeg-turbo) against the source pixels scaled in floating point by the `image` crate:
    // the fidelity the pipeline promises, upright and sideways alike (the encoder alone is
    // compared with the one before it in the crate's `encode` tests).
    let source = seeded_photo(3000, 2250, 7);
    let jpeg = jpeg(&source, 90);
    let reference = DynamicImage::ImageRgb8(source).resize_exact(
        1120,
        840,
        image::imageops::FilterType::CatmullRom,
    );
    for (orientation, want) in [
        (1, reference.to_rgb8()),
        (6, reference.rotate90().to_rgb8()),
        (8, reference.rotate270().to_rgb8()),
    ] {
        let file = with_exif_orientation(&jpeg, orientation);
        let p = prepare("photo.jpg", &file, &opts()).unwrap();
        let (mime, img) = only(&p);
        assert_eq!(mime, "image/jpeg");
        let got = img.to_rgb8();
        assert_eq!(
            got.dimensions(),
            want.dimensions(),
            "orientation {orientation}"
        );
        let db = psnr(&got, &want);
        println!("orientation {orientation}: {db:.2} dB");
        assert!(db > 30.0, "orientation {orientation}: {db:.2} dB");
    }
}
