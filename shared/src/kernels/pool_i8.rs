//! Max pooling of int8 maps, one window row at a time: the `kernel` input
//! rows under an output row are first reduced to their element-wise maximum
//! (whole rows, which LLVM turns into 16-lane `smax` on NEON and `vpmaxsb`
//! on x86-64), then each output takes the maximum of `kernel` neighbours of
//! that row. A maximum is exact in any order, so the answers are the
//! reference's ([`max_pool`]), which compares every tap of every window one
//! by one: 9 scalar compares per output for AlexNet's 3x3 windows.

use crate::layers::pool::max_pool;
use crate::spec::{PoolSpec, Shape};

/// Widest input row the on-stack row buffer holds; wider maps (none in the
/// paper network, whose widest pooled map is 55) take the reference.
pub const MAX_POOL_ROW: usize = 256;

/// [`max_pool`] on int8 CHW maps, same arguments, same answers.
pub fn max_pool_i8(spec: &PoolSpec, in_shape: Shape, input: &[i8], output: &mut [i8]) {
    let (k, s) = (spec.kernel as usize, spec.stride as usize);
    let (ih, iw) = (in_shape.h as usize, in_shape.w as usize);
    if iw > MAX_POOL_ROW || in_shape.is_empty() || k == 0 || s == 0 || k > ih || k > iw {
        // Out of the fast path's reach, or a degenerate shape the
        // reference reports.
        return max_pool(spec, in_shape, input, output);
    }
    let (oh, ow) = ((ih - k) / s + 1, (iw - k) / s + 1);
    assert_eq!(input.len(), in_shape.len(), "pool input length");
    assert_eq!(output.len(), in_shape.c as usize * oh * ow, "pool output length");
    let mut buffer = [0i8; MAX_POOL_ROW];
    let rows = &mut buffer[..iw];
    for (plane, out_plane) in input.chunks_exact(ih * iw).zip(output.chunks_exact_mut(oh * ow)) {
        for (oy, out_row) in out_plane.chunks_exact_mut(ow).enumerate() {
            let top = oy * s * iw;
            rows.copy_from_slice(&plane[top..top + iw]);
            for ky in 1..k {
                let below = &plane[top + ky * iw..top + (ky + 1) * iw];
                for (m, &v) in rows.iter_mut().zip(below) {
                    *m = (*m).max(v);
                }
            }
            if (k, s) == (3, 2) {
                // AlexNet's overlapping pool, with constant offsets: a third
                // fewer board instructions in pool1 than the general loop.
                for (ox, o) in out_row.iter_mut().enumerate() {
                    let w = &rows[2 * ox..2 * ox + 3];
                    *o = w[0].max(w[1]).max(w[2]);
                }
            } else {
                for (ox, o) in out_row.iter_mut().enumerate() {
                    let w = &rows[ox * s..ox * s + k];
                    *o = w.iter().fold(w[0], |m, &v| m.max(v));
                }
            }
        }
    }
}
