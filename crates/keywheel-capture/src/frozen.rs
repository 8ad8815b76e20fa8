//! A frozen screen: a whole-screen grab kept while a person drags a rectangle on it (the
//! desktop app shows the grab full-screen, so what they pick is what was on the screen when
//! they pressed Capture), and the region cropped out of it, pixel for pixel, as PNG bytes.
//! One region per grab: taking it drops the grab.

use std::io::Cursor;
use std::sync::Mutex;

use crate::Region;

/// Why no region came out of the frozen screen; each says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CropError {
    /// Nothing is frozen (never grabbed, already taken, or cancelled).
    #[error("there is no frozen screen to read; press Capture again")]
    NothingFrozen,
    /// The region is empty or reaches past the picture.
    #[error(
        "the region {region} (X,Y,W,H) is not inside the {width}×{height} screen; drag a rectangle on it"
    )]
    Outside {
        /// The region asked for.
        region: Region,
        /// The picture's width.
        width: u32,
        /// The picture's height.
        height: u32,
    },
    /// The grab is not a PNG that decodes.
    #[error("the screen grab could not be read ({0})")]
    Unreadable(String),
    /// The cropped picture could not be encoded.
    #[error("the region could not be encoded ({0})")]
    Encode(String),
}

#[derive(Debug)]
struct Grab {
    png: Vec<u8>,
    width: u32,
    height: u32,
}

/// The grab shown while the person picks a region (at most one at a time).
#[derive(Debug, Default)]
pub struct FrozenScreen {
    grab: Mutex<Option<Grab>>,
}

impl FrozenScreen {
    /// Keeps a `width`×`height` PNG grab (replacing any earlier one).
    pub fn freeze(&self, png: Vec<u8>, width: u32, height: u32) {
        *self.grab.lock().expect("frozen lock") = Some(Grab { png, width, height });
    }

    /// The frozen grab's size, if one is kept.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.grab
            .lock()
            .expect("frozen lock")
            .as_ref()
            .map(|g| (g.width, g.height))
    }

    /// Crops `region` out of the frozen grab (which is dropped) as PNG bytes.
    pub fn take_region(&self, region: Region) -> Result<Vec<u8>, CropError> {
        let grab = self
            .grab
            .lock()
            .expect("frozen lock")
            .take()
            .ok_or(CropError::NothingFrozen)?;
        crop(&grab.png, grab.width, grab.height, region)
    }

    /// Drops the frozen grab (cancelled).
    pub fn thaw(&self) {
        self.grab.lock().expect("frozen lock").take();
    }
}

/// Crops `region` out of a `width`×`height` PNG, as PNG bytes. A region outside the picture,
/// or empty, is refused.
pub fn crop(png: &[u8], width: u32, height: u32, region: Region) -> Result<Vec<u8>, CropError> {
    if region.w == 0 || region.h == 0 || !region.fits(width, height) {
        return Err(CropError::Outside {
            region,
            width,
            height,
        });
    }
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .map_err(|e| CropError::Unreadable(e.to_string()))?
        .to_rgb8();
    let part = image::imageops::crop_imm(&img, region.x, region.y, region.w, region.h).to_image();
    let mut out = Vec::new();
    part.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| CropError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    fn region(x: u32, y: u32, w: u32, h: u32) -> Region {
        Region { x, y, w, h }
    }

    #[test]
    fn a_region_is_cropped_from_the_frozen_screen_pixel_for_pixel() {
        let frozen = FrozenScreen::default();
        frozen.freeze(png(64, 40), 64, 40);
        assert_eq!(frozen.size(), Some((64, 40)));
        let r = region(10, 5, 20, 8);
        let out = frozen.take_region(r).unwrap();
        let img = image::load_from_memory(&out).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (20, 8));
        assert_eq!(img.get_pixel(0, 0).0, [10, 5, 7]);
        assert_eq!(img.get_pixel(19, 7).0, [29, 12, 7]);
        let again = frozen.take_region(r).unwrap_err();
        assert_eq!(again, CropError::NothingFrozen);
        assert!(
            again.to_string().contains("press Capture again"),
            "one region per grab: {again}"
        );
        assert_eq!(frozen.size(), None);
    }

    #[test]
    fn a_region_outside_the_screen_or_empty_is_refused_with_a_sentence() {
        let shot = png(32, 32);
        for r in [
            region(30, 0, 5, 5),
            region(0, 0, 0, 5),
            region(u32::MAX, 0, 2, 2),
        ] {
            let e = crop(&shot, 32, 32, r).unwrap_err();
            assert!(matches!(e, CropError::Outside { .. }), "{e:?}");
            assert!(e.to_string().contains("32×32"), "{e}");
        }
        let whole = crop(&shot, 32, 32, region(0, 0, 32, 32)).unwrap();
        assert_eq!(
            image::load_from_memory(&whole)
                .unwrap()
                .to_rgb8()
                .dimensions(),
            (32, 32),
            "the whole screen is a region"
        );
    }

    #[test]
    fn a_grab_that_is_not_a_png_and_a_cancel_are_told_apart() {
        let frozen = FrozenScreen::default();
        frozen.freeze(b"not a png".to_vec(), 10, 10);
        let e = frozen.take_region(region(0, 0, 2, 2)).unwrap_err();
        assert!(matches!(e, CropError::Unreadable(_)), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("the screen grab could not be read"),
            "{e}"
        );
        frozen.freeze(png(8, 8), 8, 8);
        frozen.thaw();
        assert_eq!(
            frozen.take_region(region(0, 0, 2, 2)).unwrap_err(),
            CropError::NothingFrozen,
            "cancelled: nothing to read"
        );
    }
}
