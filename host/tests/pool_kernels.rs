//! The vendored dfdx's plane-parallel CPU pooling against the single-threaded
//! kernels dfdx 0.13.0 released, on random shapes (max, min and average;
//! kernel, stride, padding, odd sizes, ties). Each plane visits its taps in the released order, so
//! values and gradients must be equal bit for bit.
//!
//! One test function: the kernel choice is process-wide.

use dfdx::prelude::*;
use dfdx::tensor_ops::use_released_cpu_pool2d;
use shared::float::SplitMix64;

/// Output and dX of sum(pool(x) * r).
fn run(
    dev: &Cpu,
    kind: Pool2DKind,
    shape: (usize, usize, usize, usize),
    x: &[f32],
    k: usize,
    s: usize,
    p: usize,
) -> (Vec<f32>, Vec<f32>) {
    let x = dev.tensor_from_vec(x.to_vec(), shape);
    let y = x.leaky_trace().try_pool2d(kind, k, s, p, 1).unwrap();
    let out_shape = *y.shape();
    let mut rng = SplitMix64::new(5);
    let r: Vec<f32> = (0..out_shape.num_elements()).map(|_| rng.next_normal() as f32).collect();
    let r = dev.tensor_from_vec(r, out_shape);
    let out = y.retaped::<NoneTape>().as_vec();
    let grads = (y * r).sum().backward();
    (out, grads.get(&x).as_vec())
}

#[test]
fn parallel_pool2d_equals_released_kernels() {
    let dev = Cpu::default();
    let mut rng = SplitMix64::new(1998);
    let mut pick = |n: u64| (rng.next_u64() % n) as usize;
    for case in 0..80 {
        let (k, s) = (1 + pick(4), 1 + pick(3));
        let p = pick(k.min(2) as u64);
        let shape = (1 + pick(4), 1 + pick(5), k + pick(12), k + pick(12));
        let n = shape.0 * shape.1 * shape.2 * shape.3;
        // Small integers make ties common, the case where max-pool backward
        // must pick the same inputs as the released kernel.
        let x: Vec<f32> = (0..n).map(|_| (pick(7) as f32) - 3.0).collect();
        for kind in [Pool2DKind::Max, Pool2DKind::Min, Pool2DKind::Avg] {
            use_released_cpu_pool2d(true);
            let released = run(&dev, kind, shape, &x, k, s, p);
            use_released_cpu_pool2d(false);
            let parallel = run(&dev, kind, shape, &x, k, s, p);
            assert_eq!(parallel, released, "case {case}: {kind:?} {shape:?} k{k} s{s} p{p}");
        }
    }
}
