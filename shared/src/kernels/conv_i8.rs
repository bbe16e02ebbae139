//! Fast int8 convolution: per group, unfold the input into a caller-provided
//! `[pixel][patch]` buffer (im2col, padding filled with the input zero point
//! so it contributes nothing), then take dot products of four weight rows at
//! a time against each column. The zero-point correction
//! `input_offset * sum(w)` is computed once per output channel.

use super::dot::{dot4_i8, dot_i8};
use crate::layers::conv::{ConvGeometry, ConvI8Params};

/// Scratch bytes [`conv2d_i8`] needs for this geometry.
pub fn conv2d_i8_scratch_len(g: &ConvGeometry) -> usize {
    g.output.h as usize * g.output.w as usize * g.patch_len()
}

/// Unfolds group `group` of `input` into `cols` (`[pixel][ic][ky][kx]`).
fn im2col(g: &ConvGeometry, group: usize, pad_value: i8, input: &[i8], cols: &mut [i8]) {
    let (ih, iw) = (g.input.h, g.input.w);
    let (oh, ow, k, in_g) = (g.output.h as usize, g.output.w as usize, g.kernel, g.in_per_group());
    let patch = g.patch_len();
    for oy in 0..oh {
        for ox in 0..ow {
            let col = &mut cols[(oy * ow + ox) * patch..][..patch];
            for ic in 0..in_g {
                let plane = &input[(group * in_g + ic) * ih as usize * iw as usize..];
                for ky in 0..k {
                    let row = &mut col[(ic * k + ky) * k..][..k];
                    match g.input_coord(oy, ky, ih) {
                        None => row.fill(pad_value),
                        Some(iy) => {
                            for (kx, v) in row.iter_mut().enumerate() {
                                *v = match g.input_coord(ox, kx, iw) {
                                    Some(ix) => plane[iy * iw as usize + ix],
                                    None => pad_value,
                                };
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Same result as [`crate::layers::conv::conv2d_i8_ref`], bit for bit.
/// `scratch` needs [`conv2d_i8_scratch_len`] bytes; a dense layer (1x1 map)
/// needs as many as it has inputs.
pub fn conv2d_i8(p: &ConvI8Params, input: &[i8], output: &mut [i8], scratch: &mut [i8]) {
    p.check(input, output);
    let g = &p.geometry;
    let pixels = g.output.h as usize * g.output.w as usize;
    let patch = g.patch_len();
    let cols = &mut scratch[..pixels * patch];
    // The real value 0 is the zero point, i.e. -input_offset; it always fits
    // in i8 because validated zero points are in -128..=127.
    let pad_value = (-p.input_offset).clamp(-128, 127) as i8;
    let out_g = g.out_per_group();
    let weight_row = |oc: usize| &p.weights[oc * patch..(oc + 1) * patch];
    for group in 0..g.groups {
        im2col(g, group, pad_value, input, cols);
        let channels = group * out_g..(group + 1) * out_g;
        let mut oc = channels.start;
        while oc < channels.end {
            let block = (channels.end - oc).min(4);
            let rows: [&[i8]; 4] = core::array::from_fn(|r| weight_row(oc + r.min(block - 1)));
            let bias: [i32; 4] = core::array::from_fn(|r| {
                let c = oc + r.min(block - 1);
                let wsum: i32 = weight_row(c).iter().map(|w| *w as i32).sum();
                p.bias[c].wrapping_add(p.input_offset.wrapping_mul(wsum))
            });
            for px in 0..pixels {
                let col = &cols[px * patch..(px + 1) * patch];
                let acc = if block == 1 { [dot_i8(rows[0], col); 4] } else { dot4_i8(rows, col) };
                for r in 0..block {
                    output[(oc + r) * pixels + px] = p.output.apply(oc + r, acc[r].wrapping_add(bias[r]));
                }
            }
            oc += block;
        }
    }
}
