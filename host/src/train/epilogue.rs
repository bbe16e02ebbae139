//! What follows a convolution's product up to the next convolution: its
//! bias, its ReLU, an LRN and a max pooling (AlexNet's conv1 and conv2; conv5
//! and torchvision's convolutions without the LRN).
//!
//! Op by op these are four passes over a full-size activation each way, and
//! the LRN output and its gradient are two more full-size tensors. The fused
//! CPU op takes one pass per image each way and keeps, for backward, only
//! the ReLU's output (the LRN needs it; without an LRN not even that) and
//! which tap of each pooling window won. Per image, the LRN's windowed sums
//! run one output plane at a time, so the LRN output never exists beyond
//! the plane being pooled.

use super::bias_act::{add_bias_relu, lane_sum};
use super::lrn::{pow_neg, pow_neg_three_quarters, window_sum_plane};
use super::tensor::{Bias, Image4};
use dfdx::prelude::*;
use rayon::prelude::*;
use shared::layers::pool::max_pool_out;
use shared::spec::{LrnSpec, PoolSpec, Shape};

/// The layers after a convolution's product.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epilogue {
    pub relu: bool,
    pub lrn: Option<LrnSpec>,
    /// Max pooling, padded or not.
    pub pool: Option<PoolSpec>,
}

/// A pooling window's winning tap, when its gradient can be nonzero.
/// `NO_GRADIENT` marks a window whose maximum is a ReLU's zero: the ReLU
/// passes no gradient there, whichever tap won.
const NO_GRADIENT: u8 = u8::MAX;

/// Geometry of one image's pooling. Windows are placed on the padded map
/// (`top` rows above, `left` columns left); a tap in the padding never
/// wins (minus infinity, as PyTorch pads), so the loops skip it.
#[derive(Clone, Copy)]
struct Pooling {
    kernel: usize,
    stride: usize,
    in_h: usize,
    in_w: usize,
    out_h: usize,
    out_w: usize,
    top: usize,
    left: usize,
}

impl Pooling {
    fn new(spec: &PoolSpec, in_h: usize, in_w: usize) -> Self {
        let (out_h, out_w) = max_pool_out(spec, Shape::new(1, in_h as u32, in_w as u32));
        let (kernel, stride) = (spec.kernel as usize, spec.stride as usize);
        let (top, left) = (spec.pads[0] as usize, spec.pads[1] as usize);
        Pooling { kernel, stride, in_h, in_w, out_h, out_w, top, left }
    }

    /// Every tap of every window lies in the map.
    fn inside(&self) -> bool {
        let (k, s) = (self.kernel, self.stride);
        self.top == 0
            && self.left == 0
            && (self.out_h - 1) * s + k <= self.in_h
            && (self.out_w - 1) * s + k <= self.in_w
    }

    /// Adds each window's gradient `g` to its winning tap in `gz` (one
    /// plane).
    #[inline(always)]
    fn scatter(&self, g: &[f32], taps: &[u8], gz: &mut [f32]) {
        let (k, s, w) = (self.kernel, self.stride, self.in_w);
        // Offsets of the taps from a window's corner, without divisions in
        // the loop. The corner may lie in the padding, up and left of the
        // map by `shift`; a winning tap never does.
        let mut offset = [0usize; NO_GRADIENT as usize];
        for (tap, o) in offset.iter_mut().enumerate().take(k * k) {
            *o = tap / k * w + tap % k;
        }
        let shift = self.top * w + self.left;
        for (oy, (g, taps)) in g.chunks_exact(self.out_w).zip(taps.chunks_exact(self.out_w)).enumerate() {
            let row = oy * s * w;
            for (ox, (&g, &tap)) in g.iter().zip(taps).enumerate() {
                if tap != NO_GRADIENT {
                    gz[row + ox * s + offset[tap as usize] - shift] += g;
                }
            }
        }
    }

    /// Max over each window of `plane`, the first tap in row-major order
    /// winning ties (as PyTorch), into `out` and `taps`.
    #[inline(always)]
    fn max(&self, plane: &[f32], relu: bool, out: &mut [f32], taps: &mut [u8]) {
        if !self.inside() {
            return self.max_padded(plane, relu, out, taps);
        }
        let (k, s, w) = (self.kernel, self.stride, self.in_w);
        for oy in 0..self.out_h {
            for ox in 0..self.out_w {
                let base = oy * s * w + ox * s;
                let (mut best, mut arg) = (plane[base], 0);
                for ky in 0..k {
                    let row = &plane[base + ky * w..][..k];
                    for (kx, &v) in row.iter().enumerate() {
                        if v > best {
                            (best, arg) = (v, ky * k + kx);
                        }
                    }
                }
                let o = oy * self.out_w + ox;
                out[o] = best;
                taps[o] = if relu && best <= 0.0 { NO_GRADIENT } else { arg as u8 };
            }
        }
    }

    /// [`max`](Self::max) where windows reach into the padding: each
    /// window clipped to the map (never empty: the spec checked).
    fn max_padded(&self, plane: &[f32], relu: bool, out: &mut [f32], taps: &mut [u8]) {
        let (k, s, w) = (self.kernel, self.stride, self.in_w);
        let clip = |o: usize, before: usize, n: usize| (o * s).saturating_sub(before)..(o * s + k - before).min(n);
        for oy in 0..self.out_h {
            let rows = clip(oy, self.top, self.in_h);
            for ox in 0..self.out_w {
                let cols = clip(ox, self.left, w);
                let (mut best, mut at) = (plane[rows.start * w + cols.start], (rows.start, cols.start));
                for y in rows.clone() {
                    for x in cols.clone() {
                        let v = plane[y * w + x];
                        if v > best {
                            (best, at) = (v, (y, x));
                        }
                    }
                }
                // The tap's place in the window, whose corner is at
                // (oy * s - top, ox * s - left) on the map.
                let arg = (at.0 + self.top - oy * s) * k + at.1 + self.left - ox * s;
                let o = oy * self.out_w + ox;
                out[o] = best;
                taps[o] = if relu && best <= 0.0 { NO_GRADIENT } else { arg as u8 };
            }
        }
    }
}

/// Per-thread scratch of the fused op, reused across the images a thread
/// takes.
#[derive(Default)]
struct Scratch {
    squares: Vec<f32>,
    plane: Vec<f32>,
    planes: [Vec<f32>; 3],
}

/// `v` as `len` values, to be overwritten.
#[inline(always)]
fn sized(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    v.resize(len, 0.0);
    &mut v[..len]
}

/// `v` as `len` zeros.
#[inline(always)]
fn zeroed(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    v.clear();
    v.resize(len, 0.0);
    v
}

/// The epilogue with a max pooling as one CPU op; see the module's comment.
/// Forward values equal the separate fused ops' bit for bit; gradients
/// agree to float rounding (LRN's backward runs per plane, the bias sums in
/// another order), and in a pooling window with tied maxima the first tap
/// takes the gradient, where dfdx's pooling gives it to every tied tap.
pub fn epilogue_fused_cpu<T: Tape<f32, Cpu>>(y: Image4<Cpu, T>, bias: &Bias<Cpu>, e: &Epilogue) -> Image4<Cpu, T> {
    let (batch, c, h, w) = *y.shape();
    let spec = e.pool.expect("the fused epilogue pools");
    assert!((spec.kernel as usize).pow(2) < NO_GRADIENT as usize, "a pooling window of at most 254 taps");
    assert_eq!(bias.shape().0, c, "one bias per channel");
    let pool = Pooling::new(&spec, h, w);
    let (plane, out_plane) = (h * w, pool.out_h * pool.out_w);
    let (y, mut tape) = y.split_tape();
    let dev = y.device().clone();
    let y_ghost = y.ghost();
    // The ReLU's output, in the product's buffer.
    let mut x = y.cpu_into_vec();
    let mut out = vec![0f32; batch * c * out_plane];
    let mut taps = vec![0u8; batch * c * out_plane];
    let b = bias.cpu_slice();
    let kernel = Kernel { c, plane, out_plane, pool, relu: e.relu, lrn: e.lrn };
    x.par_chunks_mut(c * plane)
        .zip(out.par_chunks_mut(c * out_plane))
        .zip(taps.par_chunks_mut(c * out_plane))
        .for_each_init(Scratch::default, |scratch, ((x, out), taps)| kernel.forward(b, x, out, taps, scratch));
    let out = dev.tensor_from_vec(out, (batch, c, pool.out_h, pool.out_w));
    if T::OWNS_TAPE && batch * c > 0 {
        let (bias_ghost, out_ghost) = (bias.ghost(), out.ghost());
        // Without an LRN the winning taps are all backward needs.
        let x = if kernel.lrn.is_some() { x } else { Vec::new() };
        tape.add_backward_op(move |grads| {
            grads.try_alloc_for(&y_ghost)?;
            grads.try_alloc_for(&bias_ghost)?;
            grads.try_alloc_for(&out_ghost)?;
            let (grad_y, grad_bias, g) = grads.muts_and_ref(&y_ghost, &bias_ghost, &out_ghost);
            let mut per_image = vec![0f32; batch * c];
            grad_y.par_chunks_mut(c * plane).zip(per_image.par_chunks_mut(c)).enumerate().for_each_init(
                Scratch::default,
                |scratch, (i, (gy, sums))| {
                    let at = i * c * out_plane..(i + 1) * c * out_plane;
                    let x = x.get(i * c * plane..(i + 1) * c * plane).unwrap_or_default();
                    kernel.backward(x, (&g[at.clone()], &taps[at]), scratch, gy, sums);
                },
            );
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

/// One image's work in the fused op: the constants of the op, and its
/// per-image forward and backward.
///
/// Both are compiled twice on x86-64, for the baseline (SSE2) and for AVX2,
/// and picked by the CPU at run time: the LRN's square roots and divisions
/// then run 8 lanes wide instead of 4. The two builds perform the same
/// operations in the same order (Rust never fuses a multiply and an add),
/// so they give the same bits.
#[derive(Clone, Copy)]
struct Kernel {
    c: usize,
    plane: usize,
    out_plane: usize,
    pool: Pooling,
    relu: bool,
    lrn: Option<LrnSpec>,
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

impl Kernel {
    fn forward(&self, b: &[f32], x: &mut [f32], out: &mut [f32], taps: &mut [u8], scratch: &mut Scratch) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU has AVX2.
            return unsafe { self.forward_avx2(b, x, out, taps, scratch) };
        }
        self.forward_image(b, x, out, taps, scratch)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn forward_avx2(&self, b: &[f32], x: &mut [f32], out: &mut [f32], taps: &mut [u8], scratch: &mut Scratch) {
        self.forward_image(b, x, out, taps, scratch)
    }

    /// Bias and ReLU over `x` in place, then the LRN and pooling into `out`
    /// and `taps`.
    #[inline(always)]
    fn forward_image(&self, b: &[f32], x: &mut [f32], out: &mut [f32], taps: &mut [u8], scratch: &mut Scratch) {
        let (c, plane, out_plane, relu) = (self.c, self.plane, self.out_plane, self.relu);
        add_bias_relu(x, b, plane, relu);
        let planes = out.chunks_exact_mut(out_plane).zip(taps.chunks_exact_mut(out_plane));
        match &self.lrn {
            None => {
                for (ch, (out, taps)) in planes.enumerate() {
                    self.pool.max(&x[ch * plane..][..plane], relu, out, taps);
                }
            }
            Some(spec) => {
                let squares = sized(&mut scratch.squares, c * plane);
                squares.iter_mut().zip(x.iter()).for_each(|(s, v)| *s = v * v);
                let lrn_out = sized(&mut scratch.plane, plane);
                for (ch, (out, taps)) in planes.enumerate() {
                    window_sum_plane(squares, c, plane, spec.size as usize / 2, ch, lrn_out);
                    lrn_plane(spec, &x[ch * plane..][..plane], lrn_out);
                    self.pool.max(lrn_out, relu, out, taps);
                }
            }
        }
    }

    /// `x`: the image's ReLU output (empty without an LRN); `g`, `taps`: its
    /// pooled gradient and winning taps. Adds to `gy`, writes `sums`.
    fn backward(&self, x: &[f32], g: (&[f32], &[u8]), scratch: &mut Scratch, gy: &mut [f32], sums: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU has AVX2.
            return unsafe { self.backward_avx2(x, g, scratch, gy, sums) };
        }
        self.backward_image(x, g, scratch, gy, sums)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn backward_avx2(&self, x: &[f32], g: (&[f32], &[u8]), scratch: &mut Scratch, gy: &mut [f32], sums: &mut [f32]) {
        self.backward_image(x, g, scratch, gy, sums)
    }

    #[inline(always)]
    fn backward_image(&self, x: &[f32], g: (&[f32], &[u8]), scratch: &mut Scratch, gy: &mut [f32], sums: &mut [f32]) {
        match &self.lrn {
            None => pool_backward(&self.pool, self.plane, g.0, g.1, gy, sums),
            Some(spec) => lrn_pool_backward(spec, &self.pool, self.relu, self.c, x, g, scratch, gy, sums),
        }
    }
}

/// One plane of LRN output: `x * (k + alpha * sums)^-beta`, over `sums` in
/// place, with the separate LRN op's arithmetic.
#[inline(always)]
fn lrn_plane(spec: &LrnSpec, x: &[f32], sums: &mut [f32]) {
    lrn_scales(spec, sums);
    sums.iter_mut().zip(x).for_each(|(s, x)| *s *= x);
}

/// `(k + alpha * sums)^-beta` over `sums` in place. One test of beta per
/// plane, not per value, so the loop vectorizes.
#[inline(always)]
fn lrn_scales(spec: &LrnSpec, sums: &mut [f32]) {
    let (alpha, beta, k) = (spec.alpha, spec.beta, spec.k);
    if beta == 0.75 {
        sums.iter_mut().for_each(|s| *s = pow_neg_three_quarters(k + alpha * *s));
    } else {
        sums.iter_mut().for_each(|s| *s = pow_neg(k + alpha * *s, beta));
    }
}

/// Backward of bias, ReLU and pooling for one image: each window's gradient
/// to its winning tap. `sums` gets the image's bias gradient.
#[inline(always)]
fn pool_backward(pool: &Pooling, plane: usize, g: &[f32], taps: &[u8], gy: &mut [f32], sums: &mut [f32]) {
    let out_plane = pool.out_h * pool.out_w;
    for (ch, sum) in sums.iter_mut().enumerate() {
        let at = ch * out_plane..(ch + 1) * out_plane;
        let (g, taps) = (&g[at.clone()], &taps[at]);
        pool.scatter(g, taps, &mut gy[ch * plane..][..plane]);
        let mut passed = [0f32; 8];
        for (o, (&g, &tap)) in g.iter().zip(taps).enumerate() {
            if tap != NO_GRADIENT {
                passed[o % 8] += g;
            }
        }
        *sum = passed.iter().sum();
    }
}

/// Backward of bias, ReLU, LRN and pooling for one image of `c` planes.
/// With `d_i = k + alpha * sum_{j in W(i)} x_j^2`, `s_i = d_i^-beta` and
/// `gz` the pooling's gradient: `dx_j = gz_j s_j - 2 alpha beta x_j
/// sum_{i in W(j)} gz_i x_i s_i / d_i`, then the ReLU's mask.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lrn_pool_backward(
    spec: &LrnSpec,
    pool: &Pooling,
    relu: bool,
    c: usize,
    x: &[f32],
    (g, taps): (&[f32], &[u8]),
    scratch: &mut Scratch,
    gy: &mut [f32],
    sums: &mut [f32],
) {
    let plane = x.len() / c;
    let out_plane = pool.out_h * pool.out_w;
    let half = spec.size as usize / 2;
    let (alpha, k) = (spec.alpha, spec.k);
    let twice_alpha_beta = 2.0 * alpha * spec.beta;
    let [gz, scale, t] = &mut scratch.planes;
    let gz = zeroed(gz, c * plane);
    let (scale, t) = (sized(scale, c * plane), sized(t, c * plane));
    for (ch, gz) in gz.chunks_exact_mut(plane).enumerate() {
        let at = ch * out_plane..(ch + 1) * out_plane;
        pool.scatter(&g[at.clone()], &taps[at], gz);
    }
    let squares = sized(&mut scratch.squares, c * plane);
    squares.iter_mut().zip(x).for_each(|(s, v)| *s = v * v);
    let acc = sized(&mut scratch.plane, plane);
    for ch in 0..c {
        window_sum_plane(squares, c, plane, half, ch, acc);
        let at = ch * plane..(ch + 1) * plane;
        let scale = &mut scale[at.clone()];
        scale.copy_from_slice(acc);
        lrn_scales(spec, scale);
        for (((d, s), t), (&gz, &x)) in
            acc.iter().zip(&*scale).zip(&mut t[at.clone()]).zip(gz[at.clone()].iter().zip(&x[at]))
        {
            *t = gz * x * s / (k + alpha * d);
        }
    }
    for (ch, sum) in sums.iter_mut().enumerate() {
        window_sum_plane(t, c, plane, half, ch, acc);
        let at = ch * plane..(ch + 1) * plane;
        let terms = gz[at.clone()].iter().zip(&scale[at.clone()]).zip(&x[at.clone()]);
        // Computed everywhere, then masked: branch-free, so it vectorizes.
        // With a ReLU, x is its output: zero exactly where it passes nothing.
        if relu {
            for (a, ((&gz, &s), &x)) in acc.iter_mut().zip(terms) {
                let v = gz * s - twice_alpha_beta * x * *a;
                *a = if x > 0.0 { v } else { 0.0 };
            }
        } else {
            for (a, ((&gz, &s), &x)) in acc.iter_mut().zip(terms) {
                *a = gz * s - twice_alpha_beta * x * *a;
            }
        }
        for (gy, a) in gy[at].iter_mut().zip(acc.iter()) {
            *gy += a;
        }
        *sum = lane_sum(acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::bias_act::{bias_act_composed, bias_act_fused_cpu};
    use crate::train::lrn::tests::{random, STRONG};
    use crate::train::lrn::{lrn_composed, lrn_fused_cpu};
    use crate::train::max_pool::max_pool_by_ops;
    use shared::float::SplitMix64;
    use shared::spec::{output_shape, Layer};

    /// The same epilogue op by op: `fused_ops` picks the separate fused CPU
    /// ops (whose forward the fused epilogue must equal bit for bit), else
    /// dfdx's tensor ops (the reference for gradients).
    fn op_by_op<T: Tape<f32, Cpu> + Merge<T>>(
        y: Image4<Cpu, T>,
        bias: &Bias<Cpu>,
        e: &Epilogue,
        fused_ops: bool,
    ) -> Image4<Cpu, T> {
        let (b, c, h, w) = *y.shape();
        let planes = y.reshape_like(&(b, c, h * w));
        let x =
            if fused_ops { bias_act_fused_cpu(planes, bias, e.relu) } else { bias_act_composed(planes, bias, e.relu) };
        let x = x.reshape_like(&(b, c, h, w));
        let x = match (&e.lrn, fused_ops) {
            (Some(spec), true) => lrn_fused_cpu(x, spec),
            (Some(spec), false) => lrn_composed(x, spec),
            (None, _) => x,
        };
        max_pool_by_ops(x, &e.pool.unwrap())
    }

    /// Random shapes, with and without ReLU and LRN, AlexNet's 3x3/2
    /// pooling and others: forward bit-identical to the separate ops,
    /// gradients of the product and the bias equal to float rounding.
    #[test]
    fn fused_epilogue_matches_the_separate_ops() {
        let dev = Cpu::default();
        let mut rng = SplitMix64::new(17);
        for case in 0..48u64 {
            let pick = |rng: &mut SplitMix64, lo: u64, n: u64| (lo + rng.next_u64() % n) as usize;
            let (k, s) = [(3, 2), (2, 2), (3, 1), (3, 3), (1, 1)][case as usize % 5];
            let (b, c) = (pick(&mut rng, 1, 4), pick(&mut rng, 1, 9));
            let (h, w) = (pick(&mut rng, k as u64, 9), pick(&mut rng, k as u64, 9));
            let lrn = (case % 4 != 3).then_some(LrnSpec { size: [3, 5][case as usize % 2], ..STRONG });
            // Every third case padded: by 1 all round, or ceil mode's
            // extra bottom row and right column (the BVLC pool5's).
            let pads = match case % 6 {
                2 if k > 1 => [1; 4],
                5 => [0, 0, 1, 1],
                _ => [0; 4],
            };
            let pool = PoolSpec { kernel: k as u32, stride: s as u32, pads };
            let Ok(out) = output_shape(0, &Layer::MaxPool(pool), Shape::new(c as u32, h as u32, w as u32)) else {
                continue;
            };
            let e = Epilogue { relu: case % 3 != 0, lrn, pool: Some(pool) };
            let n = b * c * h * w;
            let bias = dev.tensor_from_vec(random(c, case + 100, 0.5), (c,));
            let pooled = b * out.len();
            let r = random(pooled, case + 200, 1.0);
            let run = |how: u8| {
                // A fresh product per run: the fused ops take its buffer.
                let y = dev.tensor_from_vec(random(n, case, 2.0), (b, c, h, w));
                let out = match how {
                    0 => epilogue_fused_cpu(y.leaky_trace(), &bias, &e),
                    1 => op_by_op(y.leaky_trace(), &bias, &e, true),
                    _ => op_by_op(y.leaky_trace(), &bias, &e, false),
                };
                let r = dev.tensor_from_vec(r.clone(), *out.shape());
                let values = out.retaped::<NoneTape>().as_vec();
                let grads = (out * r).sum().backward();
                (values, grads.get(&y).as_vec(), grads.get(&bias).as_vec())
            };
            let (fused, separate, composed) = (run(0), run(1), run(2));
            let case = format!("{b}x{c}x{h}x{w} {e:?}");
            assert_eq!(fused.0, separate.0, "forward, {case}");
            for (a, e) in fused.0.iter().zip(&composed.0) {
                assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "forward {a} vs {e}, {case}");
            }
            for (a, e) in fused.1.iter().chain(&fused.2).zip(composed.1.iter().chain(&composed.2)) {
                assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "gradient {a} vs {e}, {case}");
            }
        }
    }

    /// A window of equal maxima passes its gradient once, to its first tap
    /// (as PyTorch); a window of the ReLU's zeros passes none.
    #[test]
    fn ties_go_to_the_first_tap_and_relu_zeros_pass_nothing() {
        let dev = Cpu::default();
        let bias = dev.tensor_from_vec(vec![0.0, 0.0], (2,));
        let mut values = vec![1.0f32; 4];
        values.extend([-1.0f32; 4]);
        let y = dev.tensor_from_vec(values, (1, 2, 2, 2));
        let e = Epilogue { relu: true, lrn: None, pool: Some(PoolSpec::new(2, 2)) };
        let out = epilogue_fused_cpu(y.leaky_trace(), &bias, &e);
        assert_eq!(out.retaped::<NoneTape>().as_vec(), vec![1.0, 0.0]);
        let grads = (out * 3.0).sum().backward();
        assert_eq!(grads.get(&y).as_vec(), vec![3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(grads.get(&bias).as_vec(), vec![3.0, 0.0]);
    }

    /// The AVX2 build of the per-image kernels gives the baseline build's
    /// bits, forward and backward (where the CPU has AVX2).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_build_gives_the_same_bits() {
        if !has_avx2() {
            return;
        }
        for (c, h, w, lrn, relu, pads) in [
            (7, 9, 11, Some(STRONG), true, [0; 4]),
            (5, 8, 8, None, true, [1; 4]),
            (6, 13, 7, Some(LrnSpec::PAPER), false, [0, 0, 1, 1]),
        ] {
            let pool = Pooling::new(&PoolSpec { kernel: 3, stride: 2, pads }, h, w);
            let (plane, out_plane) = (h * w, pool.out_h * pool.out_w);
            let kernel = Kernel { c, plane, out_plane, pool, relu, lrn };
            let b = random(c, 1, 0.5);
            let g = random(c * out_plane, 2, 1.0);
            let run = |avx2: bool| {
                let mut x = random(c * plane, 3, 2.0);
                let (mut out, mut taps) = (vec![0f32; c * out_plane], vec![0u8; c * out_plane]);
                let mut scratch = Scratch::default();
                let (mut gy, mut sums) = (random(c * plane, 4, 1.0), vec![0f32; c]);
                // SAFETY: the CPU has AVX2 (checked above).
                unsafe {
                    if avx2 {
                        kernel.forward_avx2(&b, &mut x, &mut out, &mut taps, &mut scratch);
                        kernel.backward_avx2(&x, (&g, &taps), &mut scratch, &mut gy, &mut sums);
                    } else {
                        kernel.forward_image(&b, &mut x, &mut out, &mut taps, &mut scratch);
                        kernel.backward_image(&x, (&g, &taps), &mut scratch, &mut gy, &mut sums);
                    }
                }
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                (bits(&x), bits(&out), taps, bits(&gy), bits(&sums))
            };
            assert!(run(true) == run(false), "{c}x{h}x{w} lrn={lrn:?} relu={relu}");
        }
    }
}
