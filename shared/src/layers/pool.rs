//! Max pooling, no padding, floor rounding. One generic body serves f32 and
//! int8: the maximum of int8 values needs no requantization (input and output
//! share scale and zero point).

use crate::spec::{PoolSpec, Shape};

/// Max pool over CHW `input` of shape `in_shape` into `output`.
pub fn max_pool<T: Copy + PartialOrd>(spec: &PoolSpec, in_shape: Shape, input: &[T], output: &mut [T]) {
    let (k, s) = (spec.kernel as usize, spec.stride as usize);
    let (ih, iw) = (in_shape.h as usize, in_shape.w as usize);
    let (oh, ow) = ((ih - k) / s + 1, (iw - k) / s + 1);
    assert_eq!(input.len(), in_shape.len(), "pool input length");
    assert_eq!(output.len(), in_shape.c as usize * oh * ow, "pool output length");
    for c in 0..in_shape.c as usize {
        let plane = &input[c * ih * iw..(c + 1) * ih * iw];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut m = plane[oy * s * iw + ox * s];
                for ky in 0..k {
                    for kx in 0..k {
                        let v = plane[(oy * s + ky) * iw + ox * s + kx];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_pool_takes_window_max() {
        // 1x5x5 ramp, 3x3 stride 2 -> 2x2, windows overlap by one column/row.
        let input: [i8; 25] = core::array::from_fn(|i| i as i8);
        let mut out = [0i8; 4];
        max_pool(&PoolSpec { kernel: 3, stride: 2 }, Shape::new(1, 5, 5), &input, &mut out);
        assert_eq!(out, [12, 14, 22, 24]);
    }
}
