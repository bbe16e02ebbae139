//! A layer's bias and optional ReLU: `out = max(y + bias[c], 0)` over a
//! B x C x I tensor (I = H·W after a convolution, 1 after a dense layer).
//!
//! Composed of dfdx ops it is a broadcast add and a ReLU: two passes, two
//! new activation-sized buffers kept for the backward pass, and a backward
//! that reduces the bias gradient through broadcast strides one element at
//! a time. The fused CPU op writes over the layer's output in place and
//! takes one parallel pass each way.

use super::tensor::{Bias, Planes};
use dfdx::prelude::*;
use rayon::prelude::*;

/// Bias and ReLU as dfdx tensor ops: every backend, and the reference for
/// the fused CPU op.
pub fn bias_act_composed<D: Device<f32>, T: Tape<f32, D> + Merge<T>>(
    y: Planes<D, T>,
    bias: &Bias<D>,
    relu: bool,
) -> Planes<D, T> {
    let shape = *y.shape();
    let y = y + bias.retaped::<T>().broadcast_like::<_, Axes2<0, 2>>(&shape);
    if relu {
        y.relu()
    } else {
        y
    }
}

/// Lanes of the bias-gradient sums: independent accumulators let the
/// reduction vectorize; its order depends only on the shape.
const LANES: usize = 8;

/// `sum(v)` in a fixed order: LANES interleaved partial sums, then the tail.
#[inline(always)]
pub(super) fn lane_sum(v: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = v.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `image[c][i] += bias[c]`, then `max(_, 0)` with `relu`, over one image
/// of `plane`-long channel planes, in place. Also the first step of the
/// fused convolution epilogue.
#[inline(always)]
pub(super) fn add_bias_relu(image: &mut [f32], bias: &[f32], plane: usize, relu: bool) {
    for (p, &bias) in image.chunks_exact_mut(plane).zip(bias) {
        if relu {
            p.iter_mut().for_each(|v| *v = (*v + bias).max(0.0));
        } else {
            p.iter_mut().for_each(|v| *v += bias);
        }
    }
}

/// Bias and ReLU as one CPU op, in place over `y`'s buffer when nothing else
/// holds it (a convolution or matmul output never is held).
///
/// Backward: `dy = g * [out > 0]` (ReLU's derivative at 0 is 0, as dfdx's)
/// and `dbias[c] = sum over images and I of dy`, summed per image in
/// parallel and then over images in order, so the result does not depend on
/// the thread count.
pub fn bias_act_fused_cpu<T: Tape<f32, Cpu>>(y: Planes<Cpu, T>, bias: &Bias<Cpu>, relu: bool) -> Planes<Cpu, T> {
    let shape = *y.shape();
    let (batch, c, inner) = shape;
    assert_eq!(bias.shape().0, c, "one bias per channel");
    let (y, mut tape) = y.split_tape();
    let dev = y.device().clone();
    let y_ghost = y.ghost();
    let mut values = y.cpu_into_vec();
    let b = bias.cpu_slice();
    values.par_chunks_mut((c * inner).max(1)).for_each(|image| add_bias_relu(image, b, inner.max(1), relu));
    let out = dev.tensor_from_vec(values, shape);
    if T::OWNS_TAPE && batch * c * inner > 0 {
        let kept = out.clone();
        let (bias_ghost, out_ghost) = (bias.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            grads.try_alloc_for(&y_ghost)?;
            grads.try_alloc_for(&bias_ghost)?;
            grads.try_alloc_for(&out_ghost)?;
            let (grad_y, grad_bias, g) = grads.muts_and_ref(&y_ghost, &bias_ghost, &out_ghost);
            let out = kept.cpu_slice();
            let mut per_image = vec![0f32; batch * c];
            grad_y
                .par_chunks_mut(c * inner)
                .zip(g.par_chunks(c * inner))
                .zip(out.par_chunks(c * inner))
                .zip(per_image.par_chunks_mut(c))
                .for_each(|(((gy, g), out), sums)| {
                    let mut passed = vec![0f32; inner];
                    for (ch, sum) in sums.iter_mut().enumerate() {
                        let at = ch * inner..(ch + 1) * inner;
                        for ((p, &g), &o) in passed.iter_mut().zip(&g[at.clone()]).zip(&out[at.clone()]) {
                            *p = if !relu || o > 0.0 { g } else { 0.0 };
                        }
                        for (gy, p) in gy[at].iter_mut().zip(&passed) {
                            *gy += p;
                        }
                        *sum = lane_sum(&passed);
                    }
                });
            for sums in per_image.chunks_exact(c) {
                for (gb, s) in grad_bias.iter_mut().zip(sums) {
                    *gb += s;
                }
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::float::SplitMix64;

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        (0..len).map(|_| rng.next_normal() as f32).collect()
    }

    /// The fused op against the composition on random shapes, with and
    /// without ReLU: outputs equal, gradients of input and bias equal to
    /// float rounding (the bias sum runs in another order).
    #[test]
    fn fused_cpu_op_matches_the_composition() {
        let dev = Cpu::default();
        let mut rng = SplitMix64::new(3);
        for case in 0..24u64 {
            let pick = |rng: &mut SplitMix64, n: u64| 1 + (rng.next_u64() % n) as usize;
            let (b, c, i) = (pick(&mut rng, 5), pick(&mut rng, 9), [1, 3, 8, 17, 64][case as usize % 5]);
            let relu = case % 3 != 0;
            let n = b * c * i;
            let bias = dev.tensor_from_vec(random(c, case + 100), (c,));
            let r = dev.tensor_from_vec(random(n, case + 200), (b, c, i));
            let run = |fused: bool| {
                // A fresh input per run: the fused op may take its buffer.
                let x = dev.tensor_from_vec(random(n, case), (b, c, i));
                let y = if fused {
                    bias_act_fused_cpu(x.leaky_trace(), &bias, relu)
                } else {
                    bias_act_composed(x.leaky_trace(), &bias, relu)
                };
                let out = y.retaped::<NoneTape>().as_vec();
                let grads = (y * r.clone()).sum().backward();
                (out, grads.get(&x).as_vec(), grads.get(&bias).as_vec())
            };
            let (fused, composed) = (run(true), run(false));
            assert_eq!(fused.0, composed.0, "outputs, {b}x{c}x{i} relu={relu}");
            assert_eq!(fused.1, composed.1, "input gradient, {b}x{c}x{i} relu={relu}");
            for (a, e) in fused.2.iter().zip(&composed.2) {
                assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "bias gradient {a} vs {e} ({b}x{c}x{i})");
            }
        }
    }

    /// With a ReLU, inputs that land exactly on zero pass no gradient, as
    /// dfdx's ReLU; without one every gradient passes.
    #[test]
    fn relu_passes_no_gradient_at_zero() {
        let dev = Cpu::default();
        let bias = dev.tensor_from_vec(vec![1.0, -1.0], (2,));
        for (relu, want) in [(true, vec![0.0, 1.0, 0.0, 0.0]), (false, vec![1.0; 4])] {
            let x = dev.tensor_from_vec(vec![-1.0, 0.5, 1.0, -3.0], (1, 2, 2));
            let y = bias_act_fused_cpu(x.leaky_trace(), &bias, relu);
            let grads = y.sum().backward();
            assert_eq!(grads.get(&x).as_vec(), want, "relu={relu}");
        }
    }
}
