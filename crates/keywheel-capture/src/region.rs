//! A rectangle of the screen, `X,Y,W,H` in pixels from the top-left corner of the (virtual)
//! screen, as given to `keywheel ocr --screen --region`.

use std::fmt;
use std::str::FromStr;

/// A rectangle of the screen in pixels: its top-left corner (`x`, `y`) and its size (`w`×`h`,
/// both at least 1). The desktop app's web view sends one (the rectangle dragged on the frozen
/// screen, in its pixels, not CSS pixels); its TypeScript name is `CaptureRegion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "CaptureRegion"))]
pub struct Region {
    /// Left edge, in pixels from the screen's left edge.
    pub x: u32,
    /// Top edge, in pixels from the screen's top edge.
    pub y: u32,
    /// Width in pixels (at least 1).
    pub w: u32,
    /// Height in pixels (at least 1).
    pub h: u32,
}

/// Why a text is not a region: the input is named in the sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "\"{input}\" is not a region X,Y,W,H (four whole numbers in pixels, e.g. 0,0,800,600): {reason}"
)]
pub struct RegionError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Region {
    /// The rectangle's right edge (exclusive), without overflow.
    pub fn right(&self) -> u64 {
        u64::from(self.x) + u64::from(self.w)
    }

    /// The rectangle's bottom edge (exclusive), without overflow.
    pub fn bottom(&self) -> u64 {
        u64::from(self.y) + u64::from(self.h)
    }

    /// Whether the region lies wholly inside a screen of `width`×`height` pixels.
    pub fn fits(&self, width: u32, height: u32) -> bool {
        self.right() <= u64::from(width) && self.bottom() <= u64::from(height)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{},{}", self.x, self.y, self.w, self.h)
    }
}

impl FromStr for Region {
    type Err = RegionError;

    /// Parses `X,Y,W,H` (spaces around the numbers are allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| RegionError {
            input: s.to_string(),
            reason,
        };
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() != 4 {
            return Err(err(format!("it has {} part(s), not 4", parts.len())));
        }
        let mut n = [0u32; 4];
        for (i, (part, name)) in parts.iter().zip(["X", "Y", "W", "H"]).enumerate() {
            n[i] = part.parse().map_err(|_| {
                err(format!(
                    "{name} \"{part}\" is not a whole number from 0 to {}",
                    u32::MAX
                ))
            })?;
        }
        let [x, y, w, h] = n;
        if w == 0 || h == 0 {
            return Err(err("the width and the height must be at least 1".into()));
        }
        Ok(Region { x, y, w, h })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_numbers_parse_and_print_back() {
        let r: Region = "10, 20,300,40".parse().unwrap();
        assert_eq!(
            r,
            Region {
                x: 10,
                y: 20,
                w: 300,
                h: 40
            }
        );
        assert_eq!(r.to_string(), "10,20,300,40");
        assert!(r.fits(310, 60));
        assert!(!r.fits(309, 60));
        assert!(!r.fits(310, 59));
    }

    #[test]
    fn bad_regions_name_the_input_and_the_reason() {
        for (input, reason) in [
            ("1,2,3", "3 part(s), not 4"),
            ("1,2,3,4,5", "5 part(s), not 4"),
            ("", "1 part(s)"),
            ("a,2,3,4", "X \"a\" is not a whole number"),
            ("1,-2,3,4", "Y \"-2\" is not a whole number"),
            ("1,2,3.5,4", "W \"3.5\""),
            ("1,2,3,99999999999", "H \"99999999999\""),
            ("1,2,0,4", "at least 1"),
            ("1,2,3,0", "at least 1"),
        ] {
            let e = input.parse::<Region>().unwrap_err();
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("\"{input}\" is not a region X,Y,W,H")),
                "{text}"
            );
            assert!(text.contains(reason), "{input}: {text}");
        }
    }

    #[test]
    fn edges_do_not_overflow() {
        let r = Region {
            x: u32::MAX,
            y: u32::MAX,
            w: u32::MAX,
            h: 1,
        };
        assert_eq!(r.right(), 2 * u64::from(u32::MAX));
        assert!(!r.fits(u32::MAX, u32::MAX));
    }
}
