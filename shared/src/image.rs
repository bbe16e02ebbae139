//! Image preprocessing that host and device must do identically: bilinear
//! resizing of 8-bit CHW images in integer arithmetic (half-pixel centres,
//! as PyTorch's `interpolate(..., align_corners=False)` and PIL), so a device
//! that receives a native-size image and a host that resized it itself feed
//! the network the same bytes.

use crate::spec::Shape;

/// Source coordinate of destination index `i` in 16.16 fixed point, clamped
/// to the valid range, split into (index, 8-bit fraction).
#[inline(always)]
fn source_coord(i: usize, src: u32, dst: u32) -> (usize, u32, usize) {
    let num = (2 * i as i64 + 1) * src as i64 * 65536;
    let fp = (num / (2 * dst as i64) - 32768).clamp(0, (src as i64 - 1) * 65536);
    let lo = (fp >> 16) as usize;
    let hi = (lo + 1).min(src as usize - 1);
    (lo, ((fp & 0xFFFF) >> 8) as u32, hi)
}

/// Resizes `src` (shape `from`) into `dst` (shape `to`, same channel count).
/// Equal sizes copy exactly.
pub fn resize_bilinear(src: &[u8], from: Shape, dst: &mut [u8], to: Shape) {
    assert_eq!(from.c, to.c, "resize keeps channels");
    assert_eq!(src.len(), from.len(), "resize source length");
    assert_eq!(dst.len(), to.len(), "resize destination length");
    if from == to {
        dst.copy_from_slice(src);
        return;
    }
    let (sw, dh, dw) = (from.w as usize, to.h as usize, to.w as usize);
    for c in 0..from.c as usize {
        let plane = &src[c * from.h as usize * sw..][..from.h as usize * sw];
        for y in 0..dh {
            let (y0, fy, y1) = source_coord(y, from.h, to.h);
            for x in 0..dw {
                let (x0, fx, x1) = source_coord(x, from.w, to.w);
                let p = |yy: usize, xx: usize| plane[yy * sw + xx] as u32;
                let top = p(y0, x0) * (256 - fx) + p(y0, x1) * fx;
                let bottom = p(y1, x0) * (256 - fx) + p(y1, x1) * fx;
                dst[(c * dh + y) * dw + x] = ((top * (256 - fy) + bottom * fy + 32768) >> 16) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_images_stay_constant() {
        let src = [77u8; 28 * 28];
        let mut dst = [0u8; 64 * 64];
        resize_bilinear(&src, Shape::new(1, 28, 28), &mut dst, Shape::new(1, 64, 64));
        assert!(dst.iter().all(|v| *v == 77));
    }

    #[test]
    fn upsampling_interpolates_between_neighbours() {
        // 1x1x2 -> 1x1x4 with half-pixel centres: 0, 64, 191, 255 (as PyTorch).
        let mut dst = [0u8; 4];
        resize_bilinear(&[0, 255], Shape::new(1, 1, 2), &mut dst, Shape::new(1, 1, 4));
        assert_eq!(dst, [0, 64, 191, 255]);
    }

    #[test]
    fn downsampling_by_two_averages_pairs() {
        let mut dst = [0u8; 2];
        resize_bilinear(&[10, 20, 30, 40], Shape::new(1, 1, 4), &mut dst, Shape::new(1, 1, 2));
        assert_eq!(dst, [15, 35]);
    }
}
