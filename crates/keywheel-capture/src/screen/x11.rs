//! X11: the root window's pixels through the core protocol's `GetImage` (ZPixmap), turned into
//! 8-bit RGB with the visual's colour masks.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, ImageFormat, ImageOrder};

use super::CaptureError;
use crate::region::Region;

/// The largest coordinate `GetImage` can ask for (its fields are 16-bit).
const MAX_SIDE: u32 = i16::MAX as u32;

/// Reads the region (or the whole root window) as `(width, height, rgb)`.
pub(super) fn grab(region: Option<Region>) -> Result<(u32, u32, Vec<u8>), CaptureError> {
    let display = std::env::var("DISPLAY").unwrap_or_default();
    let (conn, screen_num) = x11rb::connect(None).map_err(|e| CaptureError::Display {
        display: display.clone(),
        reason: e.to_string(),
    })?;
    let setup = conn.setup();
    let screen = &setup.roots[screen_num];
    let (sw, sh) = (
        u32::from(screen.width_in_pixels),
        u32::from(screen.height_in_pixels),
    );
    let r = region.unwrap_or(Region {
        x: 0,
        y: 0,
        w: sw,
        h: sh,
    });
    if !r.fits(sw, sh) || r.x > MAX_SIDE || r.y > MAX_SIDE {
        return Err(CaptureError::RegionOutside {
            region: r,
            width: sw,
            height: sh,
        });
    }
    let failed = |e: &dyn std::fmt::Display| {
        CaptureError::Failed(format!("the X server {display} refused GetImage ({e})"))
    };
    let reply = conn
        .get_image(
            ImageFormat::Z_PIXMAP,
            screen.root,
            r.x as i16,
            r.y as i16,
            r.w as u16,
            r.h as u16,
            !0,
        )
        .map_err(|e| failed(&e))?
        .reply()
        .map_err(|e| failed(&e))?;
    let format = setup
        .pixmap_formats
        .iter()
        .find(|f| f.depth == reply.depth)
        .ok_or_else(|| unsupported_depth(reply.depth, 0))?;
    let visual = screen
        .allowed_depths
        .iter()
        .flat_map(|d| d.visuals.iter())
        .find(|v| v.visual_id == reply.visual)
        .ok_or_else(|| {
            CaptureError::Failed(format!(
                "the X server {display} named a visual (0x{:x}) it does not list",
                reply.visual
            ))
        })?;
    let layout = Layout {
        bits_per_pixel: u32::from(format.bits_per_pixel),
        scanline_pad: u32::from(format.scanline_pad),
        msb_first: setup.image_byte_order == ImageOrder::MSB_FIRST,
        masks: [visual.red_mask, visual.green_mask, visual.blue_mask],
    };
    if !matches!(layout.bits_per_pixel, 16 | 24 | 32) {
        return Err(unsupported_depth(reply.depth, format.bits_per_pixel));
    }
    let rgb = layout.to_rgb(&reply.data, r.w, r.h)?;
    Ok((r.w, r.h, rgb))
}

fn unsupported_depth(depth: u8, bpp: u8) -> CaptureError {
    CaptureError::Unsupported(format!(
        "the X display has depth {depth} ({bpp} bits per pixel); only true-colour displays of 16, 24 or 32 bits per pixel are read"
    ))
}

/// How a ZPixmap image is laid out.
struct Layout {
    bits_per_pixel: u32,
    scanline_pad: u32,
    msb_first: bool,
    masks: [u32; 3],
}

impl Layout {
    fn to_rgb(&self, data: &[u8], w: u32, h: u32) -> Result<Vec<u8>, CaptureError> {
        let pad = self.scanline_pad.max(8) as usize;
        let stride = (w as usize * self.bits_per_pixel as usize).div_ceil(pad) * (pad / 8);
        let bytes = self.bits_per_pixel as usize / 8;
        if data.len() < stride * h as usize {
            return Err(CaptureError::Failed(format!(
                "the X server sent {} bytes for a {w}×{h} image, {} expected",
                data.len(),
                stride * h as usize
            )));
        }
        // (shift, largest value) per channel, from its mask.
        let channels: Vec<(u32, u32)> = self
            .masks
            .iter()
            .map(|&m| {
                let shift = m.trailing_zeros().min(31);
                (shift, m >> shift)
            })
            .collect();
        let mut out = Vec::with_capacity(w as usize * h as usize * 3);
        for row in data.chunks(stride).take(h as usize) {
            for px in row.chunks_exact(bytes).take(w as usize) {
                let v = if self.msb_first {
                    px.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b))
                } else {
                    px.iter().rev().fold(0u32, |v, &b| (v << 8) | u32::from(b))
                };
                for &(shift, max) in &channels {
                    let c = (v >> shift) & max;
                    out.push(if max == 0 {
                        0
                    } else {
                        ((u64::from(c) * 255 + u64::from(max) / 2) / u64::from(max)) as u8
                    });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bgrx_little_endian_pixels_become_rgb() {
        let l = Layout {
            bits_per_pixel: 32,
            scanline_pad: 32,
            msb_first: false,
            masks: [0xff0000, 0xff00, 0xff],
        };
        // Two pixels: red, then (1, 2, 3); stored B, G, R, X.
        let data = [0, 0, 255, 0, 3, 2, 1, 0];
        assert_eq!(l.to_rgb(&data, 2, 1).unwrap(), vec![255, 0, 0, 1, 2, 3]);
    }

    #[test]
    fn rgb565_rows_with_padding_are_scaled_to_8_bits() {
        let l = Layout {
            bits_per_pixel: 16,
            scanline_pad: 32,
            msb_first: false,
            masks: [0xf800, 0x07e0, 0x001f],
        };
        // One white pixel, then one pure red pixel; rows padded to 4 bytes.
        let data = [0xff, 0xff, 0, 0, 0x00, 0xf8, 0, 0];
        assert_eq!(
            l.to_rgb(&data, 1, 2).unwrap(),
            vec![255, 255, 255, 255, 0, 0]
        );
    }

    #[test]
    fn short_replies_are_an_error() {
        let l = Layout {
            bits_per_pixel: 32,
            scanline_pad: 32,
            msb_first: true,
            masks: [0xff0000, 0xff00, 0xff],
        };
        assert!(l.to_rgb(&[0; 7], 2, 1).is_err());
    }
}
