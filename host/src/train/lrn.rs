//! Local response normalisation built from dfdx tensor ops (dfdx has none):
//! `b = a / (k + alpha * sum_{|j-i| <= n/2} a_j^2)^beta`, the paper's form
//! (alpha not divided by n) and the window of `shared::layers::lrn`.
//!
//! Autograd gives the backward pass, on any backend.

use super::tensor::Image4;
use dfdx::prelude::*;
use rayon::prelude::*;
use shared::spec::LrnSpec;

/// LRN composed of dfdx tensor ops: runs on every backend, and is the
/// reference for the fused CPU kernel below.
pub fn lrn_composed<D: Device<f32>, T: Tape<f32, D> + Merge<T>>(x: Image4<D, T>, spec: &LrnSpec) -> Image4<D, T> {
    let (b, c, h, w) = *x.shape();
    let half = spec.size as usize / 2;
    let dev = x.device().clone();
    // Zero channels on both sides, then the window sum is `size` shifted
    // slices added up: a few passes over memory, where a channel-band matrix
    // product would cost `c` multiply-adds per value.
    let squares = x.retaped::<T>().square();
    let pad = || dev.zeros_like(&(b, half, h, w)).retaped::<T>();
    let padded = (pad(), squares).concat_along(Axis::<1>);
    let padded = (padded, pad()).concat_along(Axis::<1>);
    let shifted: Vec<_> = (1..2 * half + 1).map(|d| padded.retaped::<T>().slice((.., d..d + c, .., ..))).collect();
    // The first slice keeps the tape of the ops that made `padded`.
    let mut sums = padded.slice((.., 0..c, .., ..));
    for s in shifted {
        sums = sums + s;
    }
    let denominator = (sums * spec.alpha + spec.k).powf(spec.beta);
    x / denominator
}

/// `d^-beta`; the paper's beta = 3/4 as two square roots, several times
/// cheaper than `powf` (which was a sixth of a training step).
#[inline(always)]
pub(super) fn pow_neg(d: f32, beta: f32) -> f32 {
    if beta == 0.75 {
        pow_neg_three_quarters(d)
    } else {
        d.powf(-beta)
    }
}

/// `d^-3/4`, for loops that test beta once outside.
#[inline(always)]
pub(super) fn pow_neg_three_quarters(d: f32) -> f32 {
    let r = d.sqrt();
    1.0 / (r * r.sqrt())
}

/// `out[ch][p] = sum of v[j][p] over the channels j within `half` of ch`,
/// for one image of `c` planes. Whole planes are added in ascending j, so the
/// loops vectorize and every element sums in the same order as a scalar
/// loop over j would.
fn window_sums(v: &[f32], c: usize, plane: usize, half: usize, out: &mut [f32]) {
    for (ch, acc) in out.chunks_exact_mut(plane).enumerate() {
        window_sum_plane(v, c, plane, half, ch, acc);
    }
}

/// Plane `ch` of [`window_sums`].
#[inline(always)]
pub(super) fn window_sum_plane(v: &[f32], c: usize, plane: usize, half: usize, ch: usize, acc: &mut [f32]) {
    acc.fill(0.0);
    for j in ch.saturating_sub(half)..=(ch + half).min(c - 1) {
        for (a, v) in acc.iter_mut().zip(&v[j * plane..][..plane]) {
            *a += v;
        }
    }
}

/// LRN as one CPU op: forward and backward each one parallel pass over the
/// batch, where the composition makes some twenty single-threaded passes and
/// as many temporary tensors.
///
/// With `d_i = k + alpha * sum_{j in W(i)} x_j^2` and `y_i = x_i * d_i^-beta`,
/// `dL/dx_j = g_j * d_j^-beta - 2 alpha beta x_j * sum_{i in W(j)} g_i x_i d_i^(-beta-1)`
/// (the window is symmetric: j in W(i) exactly when i in W(j)).
pub fn lrn_fused_cpu<T: Tape<f32, Cpu>>(x: Image4<Cpu, T>, spec: &LrnSpec) -> Image4<Cpu, T> {
    let shape = *x.shape();
    let (_, c, h, w) = shape;
    let plane = h * w;
    let (x, mut tape) = x.split_tape();
    let xs = x.cpu_slice();
    let mut denom = vec![0f32; xs.len()];
    let mut ys = vec![0f32; xs.len()];
    let half = spec.size as usize / 2;
    let (alpha, beta, k) = (spec.alpha, spec.beta, spec.k);
    ys.par_chunks_mut(c * plane).zip(denom.par_chunks_mut(c * plane)).zip(xs.par_chunks(c * plane)).for_each(
        |((y, d), x)| {
            let squares: Vec<f32> = x.iter().map(|v| v * v).collect();
            window_sums(&squares, c, plane, half, d);
            for ((d, y), x) in d.iter_mut().zip(y.iter_mut()).zip(x) {
                *d = k + alpha * *d;
                *y = x * pow_neg(*d, beta);
            }
        },
    );
    let dev = x.device().clone();
    let out = dev.tensor_from_vec(ys, shape);
    if T::OWNS_TAPE {
        let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
        // `x` itself, not a copy: the ReLU before keeps the same buffer.
        tape.add_backward_op(move |grads| {
            let xs = x.cpu_slice();
            grads.try_alloc_for(&out_ghost)?;
            grads.try_alloc_for(&x_ghost)?;
            let (grad_x, g) = grads.mut_and_ref(&x_ghost, &out_ghost);
            grad_x
                .par_chunks_mut(c * plane)
                .zip(xs.par_chunks(c * plane))
                .zip(denom.par_chunks(c * plane).zip(g.par_chunks(c * plane)))
                .for_each(|((gx, x), (d, g))| {
                    // t_i = g_i x_i d_i^(-beta-1), then windowed sums of t.
                    let scale: Vec<f32> = d.iter().map(|&d| pow_neg(d, beta)).collect();
                    let t: Vec<f32> = (0..c * plane).map(|i| g[i] * x[i] * scale[i] / d[i]).collect();
                    let mut window = vec![0f32; c * plane];
                    window_sums(&t, c, plane, half, &mut window);
                    for i in 0..c * plane {
                        gx[i] += g[i] * scale[i] - 2.0 * alpha * beta * x[i] * window[i];
                    }
                });
            Ok(())
        });
    }
    out.put_tape(tape)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use shared::float::SplitMix64;
    use shared::spec::Shape;

    pub(in crate::train) fn random(len: usize, seed: u64, scale: f64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        (0..len).map(|_| (rng.next_normal() * scale) as f32).collect()
    }

    /// Large alpha so the normalisation, not the identity, dominates.
    pub(in crate::train) const STRONG: LrnSpec = LrnSpec { size: 5, alpha: 0.3, beta: 0.75, k: 2.0 };

    #[test]
    fn forward_matches_the_shared_reference() {
        let dev = Cpu::default();
        for (c, size, spec) in [(7, 5, STRONG), (6, 3, STRONG), (16, 5, LrnSpec::PAPER)] {
            let spec = LrnSpec { size, ..spec };
            let (b, h, w) = (2, 3, 4);
            let data = random(b * c * h * w, c as u64, 3.0);
            let x = dev.tensor_from_vec(data.clone(), (b, c, h, w));
            let y = lrn_composed(x, &spec).as_vec();
            let per = c * h * w;
            for i in 0..b {
                let mut want = vec![0.0; per];
                let shape = Shape::new(c as u32, h as u32, w as u32);
                shared::layers::lrn::lrn_f32_ref(&spec, shape, &data[i * per..][..per], &mut want);
                for (g, w) in y[i * per..][..per].iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{g} vs {w}");
                }
            }
        }
    }

    /// d/dx of sum(lrn(x) * r) by autograd against central differences in f64.
    #[test]
    fn gradient_matches_finite_differences() {
        let dev = Cpu::default();
        let (b, c, h, w) = (2, 6, 2, 3);
        let n = b * c * h * w;
        let data = random(n, 5, 1.5);
        let weights = random(n, 6, 1.0);
        let x = dev.tensor_from_vec(data.clone(), (b, c, h, w));
        let r = dev.tensor_from_vec(weights.clone(), (b, c, h, w));
        let loss = (lrn_composed(x.leaky_trace(), &STRONG) * r).sum();
        let grads = loss.backward();
        let analytic = grads.get(&x).as_vec();

        // The same function in f64, from the shared formula.
        let f = |v: &[f64]| -> f64 {
            let hw = h * w;
            let mut total = 0.0;
            for i in 0..b {
                for ch in 0..c {
                    let (lo, hi) = (ch.saturating_sub(2), (ch + 2).min(c - 1));
                    for p in 0..hw {
                        let at = |j: usize| v[i * c * hw + j * hw + p];
                        let sum: f64 = (lo..=hi).map(|j| at(j) * at(j)).sum();
                        let out = at(ch) / (STRONG.k as f64 + STRONG.alpha as f64 * sum).powf(STRONG.beta as f64);
                        total += out * weights[i * c * hw + ch * hw + p] as f64;
                    }
                }
            }
            total
        };
        let base: Vec<f64> = data.iter().map(|&v| v as f64).collect();
        let eps = 1e-5;
        for (i, g) in analytic.iter().enumerate() {
            let (mut up, mut down) = (base.clone(), base.clone());
            up[i] += eps;
            down[i] -= eps;
            let numeric = (f(&up) - f(&down)) / (2.0 * eps);
            assert!(
                (*g as f64 - numeric).abs() <= 1e-3 * numeric.abs().max(1.0),
                "x[{i}]: autograd {g}, numeric {numeric}"
            );
        }
    }

    /// The fused CPU kernel against the composition: outputs and gradients.
    #[test]
    fn fused_cpu_kernel_matches_the_composition() {
        let dev = Cpu::default();
        for (b, c, h, w, size, seed) in
            [(2, 7, 3, 5, 5, 1u64), (3, 16, 4, 4, 5, 2), (1, 5, 2, 9, 3, 3), (2, 3, 1, 1, 5, 4)]
        {
            let spec = LrnSpec { size, ..STRONG };
            let n = b * c * h * w;
            let x = dev.tensor_from_vec(random(n, seed, 2.0), (b, c, h, w));
            let r = dev.tensor_from_vec(random(n, seed + 10, 1.0), (b, c, h, w));
            let run = |fused: bool| {
                let y =
                    if fused { lrn_fused_cpu(x.leaky_trace(), &spec) } else { lrn_composed(x.leaky_trace(), &spec) };
                let out = y.retaped::<NoneTape>().as_vec();
                let grads = (y * r.clone()).sum().backward();
                (out, grads.get(&x).as_vec())
            };
            let (fused, composed) = (run(true), run(false));
            for (a, e) in fused.0.iter().chain(&fused.1).zip(composed.0.iter().chain(&composed.1)) {
                assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{a} vs {e} ({b}x{c}x{h}x{w}, n={size})");
            }
        }
    }
}
