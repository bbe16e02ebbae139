//! AVX2 GEMM micro-kernels, same results as `kernels::tile::reference`;
//! requantization is the scalar output stage. The 4x4 tile runs as two
//! halves of two rows each (eight int32x8 accumulators and six operands fit
//! the sixteen YMM registers); every half reads the column panel again,
//! which stays in L1.

use crate::kernels::tile::portable;
use crate::kernels::tile::reference::{RowStage, TILE_COLS};
use crate::layers::packed::{PANEL_DEPTH, PANEL_ROWS};
use core::arch::x86_64::*;
use core::sync::atomic::{AtomicU8, Ordering};

const STEP: usize = PANEL_ROWS * PANEL_DEPTH;

/// 0: not checked yet, 1: no AVX2, 2: AVX2.
static AVX2: AtomicU8 = AtomicU8::new(0);

fn has_avx2() -> bool {
    match AVX2.load(Ordering::Relaxed) {
        0 => {
            #[cfg(feature = "std")]
            let yes = {
                extern crate std;
                std::is_x86_feature_detected!("avx2")
            };
            #[cfg(not(feature = "std"))]
            let yes = false;
            AVX2.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
        v => v == 2,
    }
}

// The helpers carry the feature too, so LLVM inlines the intrinsics into them
// and them into the kernels.

/// 16 int8 at `s[at..at + 16]` widened to int16.
#[inline]
#[target_feature(enable = "avx2")]
fn widen(s: &[i8], at: usize) -> __m256i {
    let v = &s[at..at + 16];
    // SAFETY: `v` holds 16 readable bytes; the load has no alignment requirement.
    _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(v.as_ptr().cast()) })
}

#[inline]
#[target_feature(enable = "avx2")]
fn madd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
    _mm256_add_epi32(acc, _mm256_madd_epi16(a, b))
}

#[inline]
#[target_feature(enable = "avx2")]
fn hsum(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

#[target_feature(enable = "avx2")]
fn tile_avx2(w: &[i8], x: &[i8]) -> [[i32; TILE_COLS]; PANEL_ROWS] {
    let mut out = [[0i32; TILE_COLS]; PANEL_ROWS];
    for half in 0..2 {
        let mut acc = [_mm256_setzero_si256(); 2 * TILE_COLS];
        for (ws, xs) in w.chunks_exact(STEP).zip(x.chunks_exact(TILE_COLS * PANEL_DEPTH)) {
            let (w0, w1) = (widen(ws, 2 * half * PANEL_DEPTH), widen(ws, (2 * half + 1) * PANEL_DEPTH));
            for c in 0..TILE_COLS {
                let xc = widen(xs, c * PANEL_DEPTH);
                acc[c] = madd(acc[c], w0, xc);
                acc[TILE_COLS + c] = madd(acc[TILE_COLS + c], w1, xc);
            }
        }
        for c in 0..TILE_COLS {
            out[2 * half][c] = hsum(acc[c]);
            out[2 * half + 1][c] = hsum(acc[TILE_COLS + c]);
        }
    }
    out
}

#[target_feature(enable = "avx2")]
fn panel_dot_avx2(w: &[i8], x: &[i8]) -> [i32; PANEL_ROWS] {
    let mut acc = [_mm256_setzero_si256(); PANEL_ROWS];
    for (ws, xs) in w.chunks_exact(STEP).zip(x.chunks_exact(PANEL_DEPTH)) {
        let xv = widen(xs, 0);
        for (r, a) in acc.iter_mut().enumerate() {
            *a = madd(*a, widen(ws, r * PANEL_DEPTH), xv);
        }
    }
    acc.map(|v| hsum(v))
}

pub fn tile(w: &[i8], x: &[i8]) -> [[i32; TILE_COLS]; PANEL_ROWS] {
    assert_eq!(w.len() / PANEL_ROWS, x.len() / TILE_COLS, "tile panel depths");
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked at run time).
        unsafe { tile_avx2(w, x) }
    } else {
        portable::tile(w, x)
    }
}

pub fn panel_dot(w: &[i8], x: &[i8]) -> [i32; PANEL_ROWS] {
    assert_eq!(w.len(), PANEL_ROWS * x.len(), "panel and vector depths");
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked at run time).
        unsafe { panel_dot_avx2(w, x) }
    } else {
        portable::panel_dot(w, x)
    }
}

pub fn tile_i8(w: &[i8], x: &[i8], stage: &RowStage) -> [[i8; TILE_COLS]; PANEL_ROWS] {
    stage.apply_to_tile(tile(w, x))
}

pub fn panel_dot_i8(w: &[i8], x: &[i8], stage: &RowStage) -> [i8; PANEL_ROWS] {
    stage.apply_to_rows(panel_dot(w, x))
}
