//! Max pooling of int8 maps, one window row at a time: the input rows under
//! an output row are first reduced to their element-wise maximum (whole
//! rows, which LLVM turns into 16-lane `smax` on NEON and `vpmaxsb` on
//! x86-64) into a row buffer whose padding columns hold -128, then each
//! output takes the maximum of `kernel` neighbours of that row. Padding rows
//! are left out of the first step; -128 never beats an input value, and
//! every window holds one. A maximum is exact in any order, so the answers
//! are the reference's ([`max_pool`]), which compares every tap of every
//! window one by one: 9 scalar compares per output for AlexNet's 3x3
//! windows.

use crate::layers::pool::{max_pool, max_pool_out};
use crate::spec::{PoolSpec, Shape};

/// Widest padded input row the on-stack row buffer holds; wider maps (none
/// in the paper network, whose widest pooled map is 55) take the reference.
pub const MAX_POOL_ROW: usize = 256;

/// [`max_pool`] on int8 CHW maps, same arguments, same answers.
pub fn max_pool_i8(spec: &PoolSpec, in_shape: Shape, input: &[i8], output: &mut [i8]) {
    let (k, s) = (spec.kernel as usize, spec.stride as usize);
    let [top, left, _, right] = spec.pads.map(|p| p as usize);
    let (ih, iw) = (in_shape.h as usize, in_shape.w as usize);
    let padded_w = left.saturating_add(iw).saturating_add(right);
    if padded_w > MAX_POOL_ROW || in_shape.is_empty() {
        // Out of the fast path's reach, or an empty map the reference
        // reports.
        return max_pool(spec, in_shape, input, output);
    }
    let (oh, ow) = max_pool_out(spec, in_shape);
    assert_eq!(input.len(), in_shape.len(), "pool input length");
    assert_eq!(output.len(), in_shape.c as usize * oh * ow, "pool output length");
    let mut buffer = [i8::MIN; MAX_POOL_ROW];
    let rows = &mut buffer[..padded_w];
    for (plane, out_plane) in input.chunks_exact(ih * iw).zip(output.chunks_exact_mut(oh * ow)) {
        for (oy, out_row) in out_plane.chunks_exact_mut(ow).enumerate() {
            // The window's input rows (never empty: `max_pool_out` checked).
            let (y0, y1) = ((oy * s).saturating_sub(top), (oy * s + k - top).min(ih));
            let inner = &mut rows[left..left + iw];
            inner.copy_from_slice(&plane[y0 * iw..(y0 + 1) * iw]);
            for y in y0 + 1..y1 {
                for (m, &v) in inner.iter_mut().zip(&plane[y * iw..(y + 1) * iw]) {
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
