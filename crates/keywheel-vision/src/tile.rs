//! Splitting tall images into overlapping bands so that small text survives, and joining the
//! model's answers for the bands back together.
//!
//! # The rule
//!
//! Let the upright image be `W`×`H` and `M` = [`PrepOptions::max_side`]. Sent whole, it is
//! scaled by `s_whole = min(1, M / max(W, H))`. Cut into full-width horizontal bands, each
//! band is scaled by `s_band = min(1, M / W)`. Text in a band is `s_band / s_whole` times
//! larger than in the whole image.
//!
//! The image is tiled when tiling is on, it is taller than wide, and
//! `s_whole < 0.5 × s_band`: sending it whole would shrink text to less than half the size
//! bands would keep. So a 1080×6000 scrolling screenshot (whole: 0.19, bands: 1.0) becomes
//! 6 bands, a 1170×2532 phone screenshot (0.44 vs 0.96) 3 bands, while A4/Letter pages
//! (aspect ≈ 1.3–1.4) and 3:4 or 9:16 portrait photos stay one request each: for them bands
//! would gain little legibility for a doubled cost. Wide images are never tiled: cutting a
//! line of text across requests loses its reading order.
//!
//! Bands are full width, `M / s_band` source pixels tall, spread evenly from top to bottom
//! so that neighbours overlap by at least 10 % (a line cut by one seam is whole in the other
//! band). With more bands than [`PrepOptions::max_tiles`], the bands are made taller (and so
//! scaled down further) until they number `max_tiles`.

use crate::options::PrepOptions;
use crate::prepared::Region;
use crate::scale::scaled_size;

/// Minimum overlap between neighbouring bands, as a share of the band height.
pub const OVERLAP: f64 = 0.10;
/// Tile when sending the image whole would scale text below this share of the band scale.
pub const TILE_BELOW: f64 = 0.5;

/// How one source image becomes requests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// Scale applied to every tile (relative to the upright source).
    pub scale: f64,
    /// The tiles in reading order.
    pub tiles: Vec<Tile>,
}

/// One output image: a region of the upright source and the size it is scaled to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tile {
    pub region: Region,
    pub out_width: u32,
    pub out_height: u32,
}

/// Plan the requests for an upright `width`×`height` image.
pub(crate) fn plan(width: u32, height: u32, opts: &PrepOptions) -> Plan {
    let (w, h) = (width.max(1), height.max(1));
    let m = f64::from(opts.side());
    let whole = (m / f64::from(w.max(h))).min(1.0);
    let band = (m / f64::from(w)).min(1.0);
    if !opts.tile || h <= w || whole >= TILE_BELOW * band {
        return single(w, h, whole);
    }

    let mut band_h = (m / band).floor().min(f64::from(h));
    let mut scale = band;
    let mut n = band_count(f64::from(h), band_h);
    if n > opts.tiles() {
        // Taller bands: n bands of height b with 10 % overlap cover b × (1 + 0.9 (n - 1)).
        band_h = (f64::from(h) / (1.0 + (1.0 - OVERLAP) * (opts.tiles() as f64 - 1.0))).ceil();
        scale = (m / f64::from(w)).min(m / band_h).min(1.0);
        n = band_count(f64::from(h), band_h).min(opts.tiles());
    }
    if n <= 1 {
        return single(w, h, whole);
    }
    let band_h = band_h as u32;
    let step = f64::from(h - band_h) / (n - 1) as f64;
    let (out_width, out_height) = scaled_size(w, band_h, scale);
    let tiles = (0..n)
        .map(|i| {
            let y = ((i as f64 * step).round() as u32).min(h - band_h);
            Tile {
                region: Region {
                    x: 0,
                    y,
                    width: w,
                    height: band_h,
                },
                out_width,
                out_height,
            }
        })
        .collect();
    Plan { scale, tiles }
}

fn single(w: u32, h: u32, scale: f64) -> Plan {
    let (out_width, out_height) = scaled_size(w, h, scale);
    Plan {
        scale,
        tiles: vec![Tile {
            region: Region {
                x: 0,
                y: 0,
                width: w,
                height: h,
            },
            out_width,
            out_height,
        }],
    }
}

/// Bands of height `band` needed to cover `total` with at least [`OVERLAP`] overlap.
fn band_count(total: f64, band: f64) -> usize {
    if total <= band {
        return 1;
    }
    let stride = band * (1.0 - OVERLAP);
    ((total - band) / stride).ceil() as usize + 1
}

/// Join the model's Markdown answers for the tiles of one image, in order.
///
/// Parts are trimmed and separated by a blank line. Because bands overlap, a line near a
/// seam is often transcribed twice, at the end of one part and the start of the next; when
/// the last lines of the text so far equal the first lines of the next part (ignoring blank
/// lines and surrounding spaces), the repeat is dropped. A single repeated line counts only
/// if it has at least 12 characters, so short lines such as `---` or `| - |` are kept.
pub fn join_markdown(parts: &[String]) -> String {
    const MAX_SEAM_LINES: usize = 12;
    let mut out = String::new();
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if out.is_empty() {
            out.push_str(part);
            continue;
        }
        let tail: Vec<&str> = out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let tail = &tail[tail.len().saturating_sub(MAX_SEAM_LINES)..];
        let lines: Vec<&str> = part.lines().collect();
        // Indices of the non-blank lines of this part.
        let heads: Vec<usize> = (0..lines.len())
            .filter(|&i| !lines[i].trim().is_empty())
            .collect();
        let mut skip_to = 0;
        // A line cut by the seam may come out garbled as the last line so far (`cut_tail`)
        // or the first of this part (`cut_head`); the repeat is then found past it, and the
        // garbled copy dropped: the other band holds that line whole.
        'seam: for (cut_tail, cut_head) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let tail = &tail[..tail.len().saturating_sub(cut_tail)];
            let heads = &heads[cut_head.min(heads.len())..];
            for k in (1..=tail.len().min(heads.len()).min(MAX_SEAM_LINES)).rev() {
                let same = tail[tail.len() - k..]
                    .iter()
                    .zip(&heads[..k])
                    .all(|(a, &i)| *a == lines[i].trim());
                let long_enough = k > 1 || tail[tail.len() - 1].chars().count() >= 12;
                if same && long_enough {
                    if cut_tail == 1 {
                        drop_last_line(&mut out);
                    }
                    skip_to = heads[k - 1] + 1;
                    break 'seam;
                }
            }
        }
        let rest = lines[skip_to..].join("\n");
        let rest = rest.trim();
        if !rest.is_empty() {
            out.push_str("\n\n");
            out.push_str(rest);
        }
    }
    out
}

/// Removes the last non-blank line of `out` (and the blank lines after the one before it).
fn drop_last_line(out: &mut String) {
    let kept = out.trim_end().rfind('\n').unwrap_or(0);
    out.truncate(kept);
    let len = out.trim_end().len();
    out.truncate(len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_garbled_by_the_seam_does_not_hide_the_repeat() {
        let long = "Message 041 wrote a longer note about the plan";
        // The cut line at the bottom of the first band, then the repeat.
        let a = format!("Message 040 shared a report\n\n{long}\n\nNe ee EEE EO");
        let b = format!("{long}\n\nMessage 042 said thanks");
        assert_eq!(
            join_markdown(&[a, b.clone()]),
            format!("Message 040 shared a report\n\n{long}\n\nMessage 042 said thanks")
        );
        // The cut line at the top of the next band.
        let a = format!("Message 040 shared a report\n\n{long}");
        let b = format!("MIESSaYe YOY asked\n{long}\n\nMessage 042 said thanks");
        assert_eq!(
            join_markdown(&[a, b]),
            format!("Message 040 shared a report\n\n{long}\n\nMessage 042 said thanks")
        );
        // No repeat at all: nothing is dropped.
        let a = "First part with a last line\nstill here".to_string();
        let b = "Second part begins\nand goes on".to_string();
        assert_eq!(
            join_markdown(&[a.clone(), b.clone()]),
            format!("{a}\n\n{b}")
        );
    }

    fn opts() -> PrepOptions {
        PrepOptions::default()
    }

    #[test]
    fn photos_and_pages_are_one_request() {
        for (w, h) in [
            (4000, 3000),
            (3000, 4000),
            (2480, 3508),
            (1080, 1920),
            (6000, 1080),
            (800, 600),
        ] {
            let p = plan(w, h, &opts());
            assert_eq!(p.tiles.len(), 1, "{w}x{h}");
            let t = p.tiles[0];
            assert!(t.out_width.max(t.out_height) <= 1120);
        }
        let p = plan(4000, 3000, &opts());
        assert_eq!((p.tiles[0].out_width, p.tiles[0].out_height), (1120, 840));
        let p = plan(800, 600, &opts());
        assert_eq!(
            (p.tiles[0].out_width, p.tiles[0].out_height),
            (800, 600),
            "never upscaled"
        );
    }

    #[test]
    fn tall_screenshot_becomes_overlapping_bands_in_order() {
        let p = plan(1080, 6000, &opts());
        assert_eq!(p.tiles.len(), 6);
        assert_eq!(p.scale, 1.0);
        let mut prev_end = 0;
        for (i, t) in p.tiles.iter().enumerate() {
            assert!(t.out_width <= 1120 && t.out_height <= 1120);
            assert_eq!(t.region.height, 1120);
            if i == 0 {
                assert_eq!(t.region.y, 0);
            } else {
                let overlap = prev_end - t.region.y;
                assert!(
                    f64::from(overlap) >= 0.1 * 1120.0 - 1.0,
                    "overlap {overlap}"
                );
            }
            prev_end = t.region.y + t.region.height;
        }
        assert_eq!(prev_end, 6000);
        assert_eq!(plan(1170, 2532, &opts()).tiles.len(), 3);
    }

    #[test]
    fn tiling_can_be_turned_off_and_capped() {
        let mut o = opts();
        o.tile = false;
        assert_eq!(plan(1080, 6000, &o).tiles.len(), 1);
        o.tile = true;
        o.max_tiles = 4;
        let p = plan(1080, 20000, &o);
        assert_eq!(p.tiles.len(), 4);
        assert_eq!(
            p.tiles.last().map(|t| t.region.y + t.region.height),
            Some(20000)
        );
        assert!(
            p.tiles
                .iter()
                .all(|t| t.out_width <= 1120 && t.out_height <= 1120)
        );
    }

    #[test]
    fn join_drops_the_repeated_seam_lines() {
        let parts = vec![
            "# Title\n\nFirst paragraph line one\nShared line at the seam\n".to_owned(),
            "Shared line at the seam\n\nSecond part\n".to_owned(),
            "  \n".to_owned(),
            "---\nThird".to_owned(),
        ];
        assert_eq!(
            join_markdown(&parts),
            "# Title\n\nFirst paragraph line one\nShared line at the seam\n\nSecond part\n\n---\nThird"
        );
        assert_eq!(
            join_markdown(&["a\n---".to_owned(), "---\nb".to_owned()]),
            "a\n---\n\n---\nb"
        );
        assert_eq!(join_markdown(&[]), "");
    }
}
