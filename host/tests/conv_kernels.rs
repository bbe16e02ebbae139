//! The vendored dfdx's fast CPU convolution against the kernels dfdx 0.13.0
//! released, and the fast backward against f64 finite differences, on random
//! shapes (groups, stride, padding, odd sizes).
//!
//! An input marked constant gets no gradient, and the filters' gradient is
//! the same bit for bit.
//!
//! One test function: the kernel choice is process-wide, so the comparisons
//! must not run concurrently with each other.

use dfdx::prelude::*;
use dfdx::tensor_ops::use_released_cpu_conv2d;
use shared::float::SplitMix64;

#[derive(Clone, Copy, Debug)]
struct Case {
    batch: usize,
    chan_in: usize,
    chan_out: usize,
    groups: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    h: usize,
    w: usize,
}

fn random_case(rng: &mut SplitMix64) -> Case {
    let pick = |rng: &mut SplitMix64, n: u64| (rng.next_u64() % n) as usize;
    let groups = 1 + pick(rng, 3);
    let kernel = 1 + pick(rng, 5);
    let h = kernel + pick(rng, 9);
    Case {
        batch: 1 + pick(rng, 4),
        chan_in: groups * (1 + pick(rng, 4)),
        chan_out: groups * (1 + pick(rng, 4)),
        groups,
        kernel,
        stride: 1 + pick(rng, 3),
        padding: pick(rng, kernel.min(3) as u64),
        h,
        w: kernel + pick(rng, 11),
    }
}

fn values(rng: &mut SplitMix64, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.next_normal() as f32).collect()
}

/// Output, dX and dW of sum(conv(x, w) * r).
fn run(dev: &Cpu, c: Case, x: &[f32], w: &[f32], r_seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (out, dx, dw) = run_marked(dev, c, x, w, r_seed, false);
    (out, dx.expect("the input's gradient"), dw)
}

/// As `run`, with the input marked constant if asked: then it has no gradient.
fn run_marked(
    dev: &Cpu,
    c: Case,
    x: &[f32],
    w: &[f32],
    r_seed: u64,
    constant: bool,
) -> (Vec<f32>, Option<Vec<f32>>, Vec<f32>) {
    let x = dev.tensor_from_vec(x.to_vec(), (c.batch, c.chan_in, c.h, c.w));
    let wt = dev.tensor_from_vec(w.to_vec(), (c.chan_out, c.chan_in / c.groups, c.kernel, c.kernel));
    let mut grads = Gradients::leaky();
    if constant {
        grads.mark_constant(&x);
    }
    let y = (x.trace(grads), wt.clone()).conv2d(c.stride, c.padding, 1, c.groups);
    let shape = *y.shape();
    let mut rng = SplitMix64::new(r_seed);
    let r = dev.tensor_from_vec(values(&mut rng, shape.num_elements()), shape);
    let out = y.retaped::<NoneTape>().as_vec();
    let grads = (y * r).sum().backward();
    (out, grads.cpu_slice(&x).map(<[f32]>::to_vec), grads.get(&wt).as_vec())
}

fn close(a: &[f32], b: &[f32], what: &str, c: Case) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{what}[{i}]: fast {x}, released {y}, {c:?}");
    }
}

#[test]
fn fast_conv2d_matches_released_kernels_and_finite_differences() {
    let dev = Cpu::default();
    let mut rng = SplitMix64::new(2012);
    // The fast kernels put images side by side in chunks of >= 512 output
    // columns (128 with OpenBLAS): besides the random (small) cases, one
    // image per chunk (a 24x24 map), a batch that ends in a partial chunk (7
    // images of 168 columns: chunks of 4 and 3 without OpenBLAS), more
    // chunks than backward's dW parts, the last part short (37 images of 256
    // columns: 37 or 19 chunks), and stride-1 convolutions that keep the
    // width (3x3 pad 1, 5x5 pad 2: one span per kernel tap), one with rows
    // of 70 columns.
    let chunking = [
        Case { batch: 3, chan_in: 2, chan_out: 4, groups: 2, kernel: 3, stride: 1, padding: 1, h: 24, w: 24 },
        Case { batch: 7, chan_in: 3, chan_out: 2, groups: 1, kernel: 1, stride: 1, padding: 0, h: 12, w: 14 },
        Case { batch: 5, chan_in: 4, chan_out: 6, groups: 2, kernel: 5, stride: 2, padding: 2, h: 27, w: 25 },
        Case { batch: 37, chan_in: 2, chan_out: 3, groups: 1, kernel: 3, stride: 1, padding: 1, h: 16, w: 16 },
        Case { batch: 2, chan_in: 1, chan_out: 2, groups: 1, kernel: 5, stride: 1, padding: 2, h: 5, w: 70 },
        Case { batch: 2, chan_in: 2, chan_out: 2, groups: 1, kernel: 5, stride: 1, padding: 2, h: 3, w: 2 },
    ];
    let cases: Vec<Case> = chunking.into_iter().chain((0..60).map(|_| random_case(&mut rng))).collect();
    for c in cases {
        let x = values(&mut rng, c.batch * c.chan_in * c.h * c.w);
        let w = values(&mut rng, c.chan_out * (c.chan_in / c.groups) * c.kernel * c.kernel);
        use_released_cpu_conv2d(true);
        let released = run(&dev, c, &x, &w, 7);
        let released_constant = run_marked(&dev, c, &x, &w, 7, true);
        use_released_cpu_conv2d(false);
        let fast = run(&dev, c, &x, &w, 7);
        let fast_constant = run_marked(&dev, c, &x, &w, 7, true);
        close(&fast.0, &released.0, "y", c);
        close(&fast.1, &released.1, "dx", c);
        close(&fast.2, &released.2, "dw", c);
        for (constant, full, kernels) in [(released_constant, &released, "released"), (fast_constant, &fast, "fast")] {
            assert!(constant.1.is_none(), "{kernels}: a constant input got a gradient, {c:?}");
            assert_eq!(constant.2, full.2, "{kernels}: dw with a constant input, {c:?}");
        }
    }

    // Central differences of the same loss in f64, on a grouped, strided,
    // padded case: every dW entry and a sample of dX entries.
    let c = Case { batch: 2, chan_in: 4, chan_out: 6, groups: 2, kernel: 3, stride: 2, padding: 1, h: 7, w: 6 };
    let x = values(&mut rng, c.batch * c.chan_in * c.h * c.w);
    let w = values(&mut rng, c.chan_out * (c.chan_in / c.groups) * c.kernel * c.kernel);
    let (_, dx, dw) = run(&dev, c, &x, &w, 9);
    let h_out = (c.h + 2 * c.padding - c.kernel) / c.stride + 1;
    let w_out = (c.w + 2 * c.padding - c.kernel) / c.stride + 1;
    let mut r_rng = SplitMix64::new(9);
    let r: Vec<f64> = values(&mut r_rng, c.batch * c.chan_out * h_out * w_out).iter().map(|v| *v as f64).collect();
    let loss = |x: &[f64], w: &[f64]| -> f64 {
        let (cig, cog) = (c.chan_in / c.groups, c.chan_out / c.groups);
        let mut total = 0.0;
        for b in 0..c.batch {
            for o in 0..c.chan_out {
                let g = o / cog;
                for oh in 0..h_out {
                    for ow in 0..w_out {
                        let mut acc = 0.0;
                        for ci in 0..cig {
                            for k1 in 0..c.kernel {
                                for k2 in 0..c.kernel {
                                    let y = (oh * c.stride + k1) as isize - c.padding as isize;
                                    let xx = (ow * c.stride + k2) as isize - c.padding as isize;
                                    if y < 0 || xx < 0 || y >= c.h as isize || xx >= c.w as isize {
                                        continue;
                                    }
                                    let xi = ((b * c.chan_in + g * cig + ci) * c.h + y as usize) * c.w + xx as usize;
                                    let wi = ((o * cig + ci) * c.kernel + k1) * c.kernel + k2;
                                    acc += x[xi] * w[wi];
                                }
                            }
                        }
                        total += acc * r[((b * c.chan_out + o) * h_out + oh) * w_out + ow];
                    }
                }
            }
        }
        total
    };
    let x64: Vec<f64> = x.iter().map(|v| *v as f64).collect();
    let w64: Vec<f64> = w.iter().map(|v| *v as f64).collect();
    let eps = 1e-6;
    for i in 0..w64.len() {
        let (mut up, mut down) = (w64.clone(), w64.clone());
        up[i] += eps;
        down[i] -= eps;
        let numeric = (loss(&x64, &up) - loss(&x64, &down)) / (2.0 * eps);
        assert!((dw[i] as f64 - numeric).abs() <= 1e-3 * (1.0 + numeric.abs()), "dw[{i}] {} vs {numeric}", dw[i]);
    }
    for i in (0..x64.len()).step_by(5) {
        let (mut up, mut down) = (x64.clone(), x64.clone());
        up[i] += eps;
        down[i] -= eps;
        let numeric = (loss(&up, &w64) - loss(&down, &w64)) / (2.0 * eps);
        assert!((dx[i] as f64 - numeric).abs() <= 1e-3 * (1.0 + numeric.abs()), "dx[{i}] {} vs {numeric}", dx[i]);
    }
}
