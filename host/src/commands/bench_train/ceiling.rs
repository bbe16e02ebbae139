//! What this machine's arithmetic can reach, the yardsticks for a training
//! step's GFLOP/s: the large-GEMM throughput of the library this build
//! trains with (gemm 0.15, or OpenBLAS with the `openblas` feature), gemm's
//! beside it when they differ, and the cores' FMA peak.
//!
//! Each figure is the best of several short trials: on a shared machine one
//! slow trial would otherwise make every percentage after it look better.

use dfdx::prelude::*;
use std::time::Instant;

/// GFLOP/s of `work` (doing `flops` each call): the best of `trials`.
fn best_gflops(trials: usize, flops: f64, mut work: impl FnMut()) -> f64 {
    work(); // first-touch and library start-up
    let best = (0..trials)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    flops / best / 1e9
}

const N: usize = 1024;

/// GFLOP/s of `product` (one N³ product a call), three products per trial.
fn product_gflops(mut product: impl FnMut()) -> f64 {
    const PER_TRIAL: usize = 3;
    best_gflops(6, (PER_TRIAL * 2 * N * N * N) as f64, || {
        for _ in 0..PER_TRIAL {
            product();
        }
    })
}

/// A 1024³ f32 product on all cores through dfdx, i.e. the library this
/// build's training steps use.
pub fn training_gemm() -> f64 {
    let dev = Cpu::default();
    let a: Tensor<(usize, usize), f32, Cpu> = dev.sample_normal_like(&(N, N));
    let b: Tensor<(usize, usize), f32, Cpu> = dev.sample_normal_like(&(N, N));
    product_gflops(|| {
        let _ = a.clone().matmul(b.clone());
    })
}

/// The same product through gemm 0.15 directly, on all cores (what the
/// training would reach without OpenBLAS).
#[cfg(feature = "openblas")]
pub fn gemm_crate() -> f64 {
    let a = vec![0.5f32; N * N];
    let b = vec![0.25f32; N * N];
    let mut c = vec![0.0f32; N * N];
    let threads = rayon::current_num_threads();
    product_gflops(|| {
        // SAFETY: three N x N row-major matrices, C apart from A and B.
        unsafe {
            gemm::gemm(
                N,
                N,
                N,
                c.as_mut_ptr(),
                1,
                N as isize,
                false,
                a.as_ptr(),
                1,
                N as isize,
                b.as_ptr(),
                1,
                N as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(threads),
            )
        }
    })
}

/// The cores' f32 FMA peak and the vector width it was measured with:
/// independent FMA chains on every thread (two FMA units per core need
/// about ten chains in flight), 16 lanes where the CPU has AVX-512, else 8
/// with AVX2. None where the CPU has neither.
pub fn fma_peak() -> Option<(f64, &'static str)> {
    #[cfg(target_arch = "x86_64")]
    return x86_fma_peak();
    #[cfg(not(target_arch = "x86_64"))]
    None
}

#[cfg(target_arch = "x86_64")]
fn x86_fma_peak() -> Option<(f64, &'static str)> {
    use rayon::prelude::*;
    const ITERS: usize = 20_000_000;
    let (lanes, isa): (usize, &'static str) = if std::arch::is_x86_feature_detected!("avx512f") {
        (16, "AVX-512")
    } else if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2") {
        (8, "AVX2")
    } else {
        return None;
    };
    let threads = rayon::current_num_threads();
    let flops = (threads * ITERS * CHAINS * lanes * 2) as f64;
    let gflops = best_gflops(3, flops, || {
        let sums: f32 = (0..threads)
            .into_par_iter()
            // SAFETY: the CPU has the instructions of the chosen width
            // (checked above).
            .map(|t| unsafe {
                if lanes == 16 {
                    fma_chains_avx512(ITERS, t as f32)
                } else {
                    fma_chains_avx2(ITERS, t as f32)
                }
            })
            .sum();
        std::hint::black_box(sums);
    });
    Some((gflops, isa))
}

#[cfg(target_arch = "x86_64")]
const CHAINS: usize = 12;

/// `iters` rounds of CHAINS independent 8-lane FMAs.
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains_avx2(iters: usize, seed: f32) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(seed); CHAINS];
    let (x, y) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    for _ in 0..iters {
        for a in &mut acc {
            *a = _mm256_fmadd_ps(*a, x, y);
        }
    }
    let mut total = _mm256_setzero_ps();
    for a in acc {
        total = _mm256_add_ps(total, a);
    }
    let mut lanes = [0f32; 8];
    // SAFETY: eight f32 lanes into an eight-element array.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), total) };
    lanes.iter().sum()
}

/// `iters` rounds of CHAINS independent 16-lane FMAs.
///
/// # Safety
/// The CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_chains_avx512(iters: usize, seed: f32) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_set1_ps(seed); CHAINS];
    let (x, y) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    for _ in 0..iters {
        for a in &mut acc {
            *a = _mm512_fmadd_ps(*a, x, y);
        }
    }
    let mut total = _mm512_setzero_ps();
    for a in acc {
        total = _mm512_add_ps(total, a);
    }
    _mm512_reduce_add_ps(total)
}
