//! Pooling. Max pooling (square window, optional padding, floor rounding
//! over the padded map; ceil mode is more padding, see `PoolSpec`) has one
//! generic body for f32 and int8: the maximum of int8 values needs no
//! requantization (input and output share scale and zero point). A padded
//! tap never wins, so the reference skips it: the same answer as padding
//! with minus infinity, or with -128 in int8, since every window holds an
//! input value. Adaptive average pooling has an f32 reference and an int8
//! one that rounds the mean as TFLite does; the mean of int8 values also
//! keeps its input's quantization.

use crate::spec::{AvgPoolSpec, PoolSpec, Shape};

/// Output height and width of `spec` on `in_shape`. Panics where
/// `output_shape` would refuse the spec (a validated spec never does).
pub fn max_pool_out(spec: &PoolSpec, in_shape: Shape) -> (usize, usize) {
    let [top, left, bottom, right] = spec.pads;
    let oh = spec.out_len(in_shape.h, top, bottom).expect("a valid pooling height");
    let ow = spec.out_len(in_shape.w, left, right).expect("a valid pooling width");
    (oh as usize, ow as usize)
}

/// Max pool over CHW `input` of shape `in_shape` into `output`.
pub fn max_pool<T: Copy + PartialOrd>(spec: &PoolSpec, in_shape: Shape, input: &[T], output: &mut [T]) {
    let (k, s) = (spec.kernel as usize, spec.stride as usize);
    let (top, left) = (spec.pads[0] as usize, spec.pads[1] as usize);
    let (ih, iw) = (in_shape.h as usize, in_shape.w as usize);
    let (oh, ow) = max_pool_out(spec, in_shape);
    assert_eq!(input.len(), in_shape.len(), "pool input length");
    assert_eq!(output.len(), in_shape.c as usize * oh * ow, "pool output length");
    // The input rows (or columns) under output `o`: the window clipped to
    // the map, never empty.
    let taps = |o: usize, before: usize, n: usize| (o * s).saturating_sub(before)..(o * s + k - before).min(n);
    for c in 0..in_shape.c as usize {
        let plane = &input[c * ih * iw..(c + 1) * ih * iw];
        for oy in 0..oh {
            let rows = taps(oy, top, ih);
            for ox in 0..ow {
                let cols = taps(ox, left, iw);
                let mut m = plane[rows.start * iw + cols.start];
                for y in rows.clone() {
                    for x in cols.clone() {
                        let v = plane[y * iw + x];
                        if v > m {
                            m = v;
                        }
                    }
                }
                output[(c * oh + oy) * ow + ox] = m;
            }
        }
    }
}

/// Calls `cell(c, oy, ox, rows, cols)` for every output cell of an adaptive
/// average pool, with the input rows and columns it averages.
fn avg_pool_cells(
    spec: &AvgPoolSpec,
    in_shape: Shape,
    mut cell: impl FnMut(usize, usize, usize, core::ops::Range<usize>, core::ops::Range<usize>),
) {
    for c in 0..in_shape.c as usize {
        for oy in 0..spec.out_h {
            let (y0, y1) = AvgPoolSpec::window(oy, in_shape.h, spec.out_h);
            for ox in 0..spec.out_w {
                let (x0, x1) = AvgPoolSpec::window(ox, in_shape.w, spec.out_w);
                cell(c, oy as usize, ox as usize, y0 as usize..y1 as usize, x0 as usize..x1 as usize);
            }
        }
    }
}

/// The adaptive average pool of one channel as a matrix, row-major
/// `[in_h * in_w][out_h * out_w]`: a flattened map times it is the pooled
/// map. Training and the ONNX export pool this way, since it is one product
/// for any window layout.
pub fn avg_pool_matrix(spec: &AvgPoolSpec, in_shape: Shape, out: &mut [f32]) {
    let cells_out = (spec.out_h * spec.out_w) as usize;
    assert_eq!(out.len(), (in_shape.h * in_shape.w) as usize * cells_out, "pool matrix length");
    out.fill(0.0);
    avg_pool_cells(spec, Shape::new(1, in_shape.h, in_shape.w), |_, oy, ox, rows, cols| {
        let share = 1.0 / (rows.len() * cols.len()) as f32;
        for y in rows {
            for x in cols.clone() {
                out[(y * in_shape.w as usize + x) * cells_out + oy * spec.out_w as usize + ox] = share;
            }
        }
    });
}

/// Adaptive average pool, f32 (PyTorch's `adaptive_avg_pool2d`).
pub fn avg_pool_f32(spec: &AvgPoolSpec, in_shape: Shape, input: &[f32], output: &mut [f32]) {
    let (ih, iw, oh, ow) = (in_shape.h as usize, in_shape.w as usize, spec.out_h as usize, spec.out_w as usize);
    assert_eq!(input.len(), in_shape.len(), "pool input length");
    assert_eq!(output.len(), in_shape.c as usize * oh * ow, "pool output length");
    avg_pool_cells(spec, in_shape, |c, oy, ox, rows, cols| {
        let count = (rows.len() * cols.len()) as f32;
        let mut sum = 0.0f32;
        for y in rows {
            sum += input[(c * ih + y) * iw..][cols.clone()].iter().sum::<f32>();
        }
        output[(c * oh + oy) * ow + ox] = sum / count;
    });
}

/// Adaptive average pool, int8: the window's sum divided by its size,
/// rounded half away from zero (TFLite's `AveragePool`). The zero point
/// cancels out of the mean, so no requantization.
pub fn avg_pool_i8(spec: &AvgPoolSpec, in_shape: Shape, input: &[i8], output: &mut [i8]) {
    let (ih, iw, oh, ow) = (in_shape.h as usize, in_shape.w as usize, spec.out_h as usize, spec.out_w as usize);
    assert_eq!(input.len(), in_shape.len(), "pool input length");
    assert_eq!(output.len(), in_shape.c as usize * oh * ow, "pool output length");
    avg_pool_cells(spec, in_shape, |c, oy, ox, rows, cols| {
        let count = (rows.len() * cols.len()) as i32;
        let mut sum = 0i32;
        for y in rows {
            sum += input[(c * ih + y) * iw..][cols.clone()].iter().map(|&v| v as i32).sum::<i32>();
        }
        let half = if sum >= 0 { count / 2 } else { -(count / 2) };
        // The mean of int8 values is an int8 value.
        output[(c * oh + oy) * ow + ox] = ((sum + half) / count) as i8;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_windows_follow_pytorch() {
        // 7 -> 6: windows of two overlapping by one; 6 -> 6: identity; 2 -> 5 repeats.
        let w =
            |input, output| (0..output).map(|i| AvgPoolSpec::window(i, input, output)).collect::<std::vec::Vec<_>>();
        assert_eq!(w(7, 6), [(0, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7)]);
        assert_eq!(w(6, 6), [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]);
        assert_eq!(w(2, 5), [(0, 1), (0, 1), (0, 2), (1, 2), (1, 2)]);
    }

    #[test]
    fn int8_average_rounds_half_away_from_zero() {
        let spec = AvgPoolSpec { out_h: 1, out_w: 2 };
        // Left window {1, 2} -> 1.5 -> 2; right {-1, -2} -> -1.5 -> -2.
        let mut out = [0i8; 2];
        avg_pool_i8(&spec, Shape::new(1, 1, 4), &[1, 2, -1, -2], &mut out);
        assert_eq!(out, [2, -2]);
        let mut outf = [0f32; 2];
        avg_pool_f32(&spec, Shape::new(1, 1, 4), &[1.0, 2.0, -1.0, -2.0], &mut outf);
        assert_eq!(outf, [1.5, -1.5]);
    }

    #[test]
    fn overlapping_pool_takes_window_max() {
        // 1x5x5 ramp, 3x3 stride 2 -> 2x2, windows overlap by one column/row.
        let input: [i8; 25] = core::array::from_fn(|i| i as i8);
        let mut out = [0i8; 4];
        max_pool(&PoolSpec::new(3, 2), Shape::new(1, 5, 5), &input, &mut out);
        assert_eq!(out, [12, 14, 22, 24]);
    }

    #[test]
    fn padding_never_wins() {
        // All-negative 1x2x3 map, 2x2/1 padded by 1 all round: every window
        // takes its largest input value, never a padded zero or -128.
        let input = [-5i8, -3, -128, -7, -1, -9];
        let spec = PoolSpec { kernel: 2, stride: 1, pads: [1; 4] };
        let mut out = [0i8; 12];
        max_pool(&spec, Shape::new(1, 2, 3), &input, &mut out);
        assert_eq!(out, [-5, -3, -3, -128, -5, -1, -1, -9, -7, -1, -1, -9]);
        let f: std::vec::Vec<f32> = input.iter().map(|&v| v as f32).collect();
        let mut outf = [0f32; 12];
        max_pool(&spec, Shape::new(1, 2, 3), &f, &mut outf);
        assert_eq!(outf.map(|v| v as i8), out);
    }
}
