//! x86-64 GEMM micro-kernels, same results as `kernels::tile::reference`,
//! in two widths chosen at run time:
//!
//! - AVX-512 VNNI (`vpdpbusd`, 64 products a step): it multiplies unsigned
//!   by signed bytes, so the columns are flipped to `x + 128` (a XOR with
//!   0x80) and `128 * sum(w)` is taken off again, computed by the same
//!   instruction on a row of 128s. The sums are exact: four products of
//!   at most 255 * 127 per lane never near the int32 range. The 4x4 tile is
//!   requantized in one register.
//! - AVX2: each 4x4 tile runs as two halves of two rows each (eight int32x8
//!   accumulators and six operands fit the sixteen YMM registers); every
//!   half reads the column panel again, which stays in L1. Requantization is
//!   the scalar output stage.

use crate::kernels::tile::portable;
use crate::kernels::tile::reference::{RowStage, TILE_COLS};
use crate::layers::packed::{PANEL_DEPTH, PANEL_ROWS};
use core::arch::x86_64::*;
use core::sync::atomic::{AtomicU8, Ordering};

const STEP: usize = PANEL_ROWS * PANEL_DEPTH;

/// The widest kernels this CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Portable = 1,
    Avx2 = 2,
    Avx512Vnni = 3,
}

/// 0 until detected, then a [`Level`].
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The best level of this CPU (detected once; without `std`, portable).
pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        3 => Level::Avx512Vnni,
        2 => Level::Avx2,
        1 => Level::Portable,
        _ => {
            let found = detect();
            LEVEL.store(found as u8, Ordering::Relaxed);
            found
        }
    }
}

fn detect() -> Level {
    #[cfg(feature = "std")]
    {
        extern crate std;
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vnni") {
            return Level::Avx512Vnni;
        }
        if std::is_x86_feature_detected!("avx2") {
            return Level::Avx2;
        }
    }
    Level::Portable
}

/// Every level this CPU runs, the portable one first (for tests).
pub fn levels() -> impl Iterator<Item = Level> {
    [Level::Portable, Level::Avx2, Level::Avx512Vnni].into_iter().filter(|l| *l <= level())
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

/// One step of weights: rows 0..4, 16 bytes each, in one register.
#[inline]
#[target_feature(enable = "avx512f")]
fn load_step(ws: &[i8]) -> __m512i {
    let ws = &ws[..STEP];
    // SAFETY: `ws` holds 64 readable bytes; the load has no alignment requirement.
    unsafe { _mm512_loadu_si512(ws.as_ptr().cast()) }
}

/// A column's 16 bytes at `s[at..]`, flipped to unsigned, in all four lanes.
#[inline]
#[target_feature(enable = "avx512f")]
fn load_column(s: &[i8], at: usize) -> __m512i {
    let v = &s[at..at + PANEL_DEPTH];
    // SAFETY: `v` holds 16 readable bytes; the load has no alignment requirement.
    let x = _mm512_broadcast_i32x4(unsafe { _mm_loadu_si128(v.as_ptr().cast()) });
    _mm512_xor_si512(x, _mm512_set1_epi8(-128))
}

/// Lane `4r + c` of the result: the sum of lanes `4r..4r + 4` of `d[c]`
/// (each 128-bit lane holds one row's four partial sums per column).
#[inline]
#[target_feature(enable = "avx512f")]
fn reduce_quads(d: [__m512i; 4]) -> __m512i {
    let u01 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[0], d[1]), _mm512_unpackhi_epi32(d[0], d[1]));
    let u23 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[2], d[3]), _mm512_unpackhi_epi32(d[2], d[3]));
    _mm512_add_epi32(_mm512_unpacklo_epi64(u01, u23), _mm512_unpackhi_epi64(u01, u23))
}

/// The tile's sums, lane `4r + c` for row `r`, column `c`.
#[inline]
#[target_feature(enable = "avx512f,avx512vnni")]
fn tile_vnni_lanes(w: &[i8], x: &[i8]) -> __m512i {
    let flip = _mm512_set1_epi8(-128);
    let mut acc = [_mm512_setzero_si512(); TILE_COLS];
    let mut offset = _mm512_setzero_si512();
    for (ws, xs) in w.chunks_exact(STEP).zip(x.chunks_exact(TILE_COLS * PANEL_DEPTH)) {
        let wv = load_step(ws);
        for (c, a) in acc.iter_mut().enumerate() {
            *a = _mm512_dpbusd_epi32(*a, load_column(xs, c * PANEL_DEPTH), wv);
        }
        offset = _mm512_dpbusd_epi32(offset, flip, wv);
    }
    reduce_quads(acc.map(|a| _mm512_sub_epi32(a, offset)))
}

#[target_feature(enable = "avx512f,avx512vnni")]
fn tile_vnni(w: &[i8], x: &[i8]) -> [[i32; TILE_COLS]; PANEL_ROWS] {
    let mut out = [[0i32; TILE_COLS]; PANEL_ROWS];
    // SAFETY: `out` is 64 bytes; the store has no alignment requirement.
    unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), tile_vnni_lanes(w, x)) };
    out
}

#[target_feature(enable = "avx512f,avx512vnni")]
fn tile_i8_vnni(w: &[i8], x: &[i8], stage: &RowStage) -> [[i8; TILE_COLS]; PANEL_ROWS] {
    let y = requantize_tile(tile_vnni_lanes(w, x), stage);
    let mut out = [[0i8; TILE_COLS]; PANEL_ROWS];
    // SAFETY: `out` is 16 bytes; the store has no alignment requirement.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), y) };
    out
}

#[target_feature(enable = "avx512f,avx512vnni")]
fn panel_dot_vnni(w: &[i8], x: &[i8]) -> [i32; PANEL_ROWS] {
    let flip = _mm512_set1_epi8(-128);
    let (mut acc, mut offset) = (_mm512_setzero_si512(), _mm512_setzero_si512());
    for (ws, xs) in w.chunks_exact(STEP).zip(x.chunks_exact(PANEL_DEPTH)) {
        let wv = load_step(ws);
        acc = _mm512_dpbusd_epi32(acc, load_column(xs, 0), wv);
        offset = _mm512_dpbusd_epi32(offset, flip, wv);
    }
    let d = _mm512_sub_epi32(acc, offset);
    let zero = _mm512_setzero_si512();
    let sums = reduce_quads([d, zero, zero, zero]);
    let mut lanes = [0i32; 16];
    // SAFETY: `lanes` is 64 bytes; the store has no alignment requirement.
    unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), sums) };
    core::array::from_fn(|r| lanes[4 * r])
}

/// `v[r]` in lanes `4r..4r + 4`.
#[inline]
#[target_feature(enable = "avx512f")]
fn per_row(v: &[i32; PANEL_ROWS]) -> __m512i {
    // SAFETY: `v` is 16 readable bytes; the load has no alignment requirement.
    let v = _mm512_castsi128_si512(unsafe { _mm_loadu_si128(v.as_ptr().cast()) });
    _mm512_permutexvar_epi32(_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0), v)
}

/// `a * b` per 32-bit lane pair as 64-bit, rounded as
/// [`crate::quant::saturating_rounding_doubling_high_mul`] (the multiplier
/// is never `i32::MIN`, so the one saturating case cannot occur): add the
/// nudge, then divide by 2^31 truncating towards zero.
#[inline]
#[target_feature(enable = "avx512f")]
fn doubling_high_mul_even(a: __m512i, b: __m512i) -> __m512i {
    let ab = _mm512_mul_epi32(a, b);
    let negative = _mm512_cmplt_epi64_mask(ab, _mm512_setzero_si512());
    let nudge = _mm512_mask_blend_epi64(negative, _mm512_set1_epi64(1 << 30), _mm512_set1_epi64(1 - (1 << 30)));
    let t = _mm512_add_epi64(ab, nudge);
    let t_negative = _mm512_cmplt_epi64_mask(t, _mm512_setzero_si512());
    let t = _mm512_mask_add_epi64(t, t_negative, t, _mm512_set1_epi64((1 << 31) - 1));
    _mm512_srai_epi64::<31>(t)
}

/// [`RowStage::apply_ref`] on 16 sums at once (lane `4r + c` is row `r`),
/// packed to int8 in the same order.
#[inline]
#[target_feature(enable = "avx512f")]
fn requantize_tile(acc: __m512i, stage: &RowStage) -> __m128i {
    let zero = _mm512_setzero_si512();
    let x = _mm512_add_epi32(acc, per_row(&stage.bias));
    let shift = per_row(&stage.shift);
    // Left shift by max(shift, 0) (at most 30), saturating.
    let left = _mm512_max_epi32(shift, zero);
    let shifted = _mm512_sllv_epi32(x, left);
    let overflow = _mm512_cmpneq_epi32_mask(_mm512_srav_epi32(shifted, left), x);
    let limit = _mm512_mask_blend_epi32(
        _mm512_cmplt_epi32_mask(x, zero),
        _mm512_set1_epi32(i32::MAX),
        _mm512_set1_epi32(i32::MIN),
    );
    let a = _mm512_mask_blend_epi32(overflow, shifted, limit);
    // The doubling high product, even lanes then odd lanes.
    let m = per_row(&stage.multiplier);
    let even = doubling_high_mul_even(a, m);
    let odd = doubling_high_mul_even(_mm512_srli_epi64::<32>(a), _mm512_srli_epi64::<32>(m));
    let high = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64::<32>(odd));
    // Rounding right shift by max(-shift, 0) (at most 31), ties away from zero.
    let right = _mm512_min_epi32(_mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero), _mm512_set1_epi32(31));
    let mask = _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), right), _mm512_set1_epi32(1));
    let remainder = _mm512_and_si512(high, mask);
    let threshold = _mm512_srai_epi32::<1>(mask);
    let threshold =
        _mm512_mask_add_epi32(threshold, _mm512_cmplt_epi32_mask(high, zero), threshold, _mm512_set1_epi32(1));
    let q = _mm512_srav_epi32(high, right);
    let q = _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(remainder, threshold), q, _mm512_set1_epi32(1));
    let y = _mm512_add_epi32(q, _mm512_set1_epi32(stage.output_offset));
    let y = _mm512_min_epi32(_mm512_max_epi32(y, _mm512_set1_epi32(stage.act_min)), _mm512_set1_epi32(stage.act_max));
    _mm512_cvtepi32_epi8(y)
}

/// [`tile`] at a given level (at most [`level`]).
pub fn tile_on(level: Level, w: &[i8], x: &[i8]) -> [[i32; TILE_COLS]; PANEL_ROWS] {
    assert_eq!(w.len() / PANEL_ROWS, x.len() / TILE_COLS, "tile panel depths");
    assert!(level <= self::level(), "{level:?} is not available on this CPU");
    match level {
        // SAFETY: the CPU has AVX-512 F and VNNI (checked at run time).
        Level::Avx512Vnni => unsafe { tile_vnni(w, x) },
        // SAFETY: the CPU has AVX2 (checked at run time).
        Level::Avx2 => unsafe { tile_avx2(w, x) },
        Level::Portable => portable::tile(w, x),
    }
}

/// [`panel_dot`] at a given level (at most [`level`]).
pub fn panel_dot_on(level: Level, w: &[i8], x: &[i8]) -> [i32; PANEL_ROWS] {
    assert_eq!(w.len(), PANEL_ROWS * x.len(), "panel and vector depths");
    assert!(level <= self::level(), "{level:?} is not available on this CPU");
    match level {
        // SAFETY: the CPU has AVX-512 F and VNNI (checked at run time).
        Level::Avx512Vnni => unsafe { panel_dot_vnni(w, x) },
        // SAFETY: the CPU has AVX2 (checked at run time).
        Level::Avx2 => unsafe { panel_dot_avx2(w, x) },
        Level::Portable => portable::panel_dot(w, x),
    }
}

/// [`tile_i8`] at a given level (at most [`level`]).
pub fn tile_i8_on(level: Level, w: &[i8], x: &[i8], stage: &RowStage) -> [[i8; TILE_COLS]; PANEL_ROWS] {
    match level {
        Level::Avx512Vnni => {
            assert_eq!(w.len() / PANEL_ROWS, x.len() / TILE_COLS, "tile panel depths");
            assert!(level <= self::level(), "{level:?} is not available on this CPU");
            // SAFETY: the CPU has AVX-512 F and VNNI (checked at run time).
            unsafe { tile_i8_vnni(w, x, stage) }
        }
        _ => stage.apply_to_tile(tile_on(level, w, x)),
    }
}

pub fn tile(w: &[i8], x: &[i8]) -> [[i32; TILE_COLS]; PANEL_ROWS] {
    tile_on(level(), w, x)
}

pub fn panel_dot(w: &[i8], x: &[i8]) -> [i32; PANEL_ROWS] {
    panel_dot_on(level(), w, x)
}

pub fn tile_i8(w: &[i8], x: &[i8], stage: &RowStage) -> [[i8; TILE_COLS]; PANEL_ROWS] {
    tile_i8_on(level(), w, x, stage)
}

pub fn panel_dot_i8(w: &[i8], x: &[i8], stage: &RowStage) -> [i8; PANEL_ROWS] {
    stage.apply_to_rows(panel_dot(w, x))
}
