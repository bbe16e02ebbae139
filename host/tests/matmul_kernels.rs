//! dfdx's f32 matrix product as this build runs it (gemm, or the system
//! OpenBLAS with the `openblas` feature) against an f64 reference, on random
//! shapes with plain and transposed operands, forward (C = A·B) and backward
//! (the gradients accumulate into existing buffers: C += A·B), on sizes that
//! split into uneven column blocks over the threads.

use dfdx::prelude::*;
use shared::float::SplitMix64;

type Matrix = Tensor<(usize, usize), f32, Cpu>;

fn values(rng: &mut SplitMix64, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.next_normal() as f32).collect()
}

/// Row-major `a` (m x k) times `b` (k x n), in f64.
fn reference(a: &[f32], b: &[f32], (m, k, n): (usize, usize, usize)) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            for j in 0..n {
                c[i * n + j] += a[i * k + p] as f64 * b[p * n + j] as f64;
            }
        }
    }
    c
}

fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols * rows).map(|i| x[(i % rows) * cols + i / rows]).collect()
}

fn assert_close(got: &[f32], want: &[f64], scale: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((*g as f64 - w).abs() <= 1e-4 * scale, "{what}[{i}]: {g} vs {w}");
    }
}

/// A matrix with these values, stored transposed if asked (then its strides
/// are column-major, as dfdx passes a transposed operand).
fn matrix(dev: &Cpu, v: &[f32], (rows, cols): (usize, usize), transposed: bool) -> Matrix {
    if transposed {
        let stored: Matrix = dev.tensor_from_vec(transpose(v, rows, cols), (cols, rows));
        stored.permute::<_, Axes2<1, 0>>()
    } else {
        dev.tensor_from_vec(v.to_vec(), (rows, cols))
    }
}

#[test]
fn products_and_their_gradients_match_an_f64_reference() {
    let dev = Cpu::default();
    let mut rng = SplitMix64::new(2012);
    let pick = |rng: &mut SplitMix64, lo: usize, hi: usize| lo + (rng.next_u64() % (hi - lo + 1) as u64) as usize;
    for case in 0..40 {
        let (m, k, n) = (pick(&mut rng, 1, 70), pick(&mut rng, 1, 90), pick(&mut rng, 1, 150));
        let (ta, tb) = (case % 2 == 1, case / 2 % 2 == 1);
        let (a, b, r) = (values(&mut rng, m * k), values(&mut rng, k * n), values(&mut rng, m * n));
        let what = format!("{m}x{k}x{n}, transposed a {ta} b {tb}");
        let scale = (k as f64).sqrt() * 4.0;

        let (at, bt) = (matrix(&dev, &a, (m, k), ta), matrix(&dev, &b, (k, n), tb));
        let c = at.clone().matmul(bt.clone());
        assert_close(&c.as_vec(), &reference(&a, &b, (m, k, n)), scale, &format!("C of {what}"));

        // d(sum(C * R))/dA = R·Bᵀ and /dB = Aᵀ·R, one operand traced at a
        // time (dfdx's tape rides on the left operand: B's through Cᵀ = BᵀAᵀ).
        let weights: Matrix = dev.tensor_from_vec(r.clone(), (m, n));
        let ga = (at.leaky_trace().matmul(bt.clone()) * weights).sum().backward().get(&at).as_vec();
        let weights_t: Matrix = dev.tensor_from_vec(transpose(&r, m, n), (n, m));
        let ct = bt.leaky_trace().permute::<_, Axes2<1, 0>>().matmul(at.clone().permute::<_, Axes2<1, 0>>());
        let gb = (ct * weights_t).sum().backward().get(&bt).as_vec();
        let da = reference(&r, &transpose(&b, k, n), (m, n, k));
        let db = reference(&transpose(&a, m, k), &r, (k, m, n));
        assert_close(&ga, &da, (n as f64).sqrt() * 4.0, &format!("dA of {what}"));
        assert_close(&gb, &db, (m as f64).sqrt() * 4.0, &format!("dB of {what}"));
    }
}
