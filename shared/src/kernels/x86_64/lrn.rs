//! AVX-512 int8 LRN, the same bits as [`crate::layers::lrn::lrn_i8_channels`]:
//! pixels in chunks of [`CHUNK`], channel after channel, each chunk's window
//! sums kept in an array and slid by one channel (one square added, one
//! dropped); the table lookup (`vpgatherdd`), the interpolation and the
//! fixed-point product run on 16 values at a time, in 64-bit lanes where the
//! scalar code uses `i64`.

use crate::layers::lrn::{check_lrn_i8, LrnI8Params, LRN_MANTISSA_BITS};
use crate::spec::Shape;
use core::arch::x86_64::*;
use core::ops::Range;
use core::sync::atomic::{AtomicU8, Ordering};

/// Pixels per chunk: one cache line of each channel.
const CHUNK: usize = 64;
const LANES: usize = 16;

/// 0 until detected, 1 no, 2 yes.
static AVAILABLE: AtomicU8 = AtomicU8::new(0);

/// Whether this CPU runs [`lrn_i8`] (AVX-512 F, CD, BW and VL).
pub fn available() -> bool {
    match AVAILABLE.load(Ordering::Relaxed) {
        0 => {
            #[cfg(feature = "std")]
            let yes = {
                extern crate std;
                std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512cd")
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("avx512vl")
            };
            #[cfg(not(feature = "std"))]
            let yes = false;
            AVAILABLE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
        v => v == 2,
    }
}

/// `x / 2^bits` per 64-bit lane, rounded half away from zero (the scalar
/// `round_shift`); `bits` in `0..64`.
#[inline]
#[target_feature(enable = "avx512f")]
fn round_shift(x: __m512i, bits: __m512i) -> __m512i {
    let half = _mm512_srli_epi64::<1>(_mm512_sllv_epi64(_mm512_set1_epi64(1), bits));
    let r = _mm512_srlv_epi64(_mm512_add_epi64(_mm512_abs_epi64(x), half), bits);
    let negative = _mm512_cmplt_epi64_mask(x, _mm512_setzero_si512());
    _mm512_mask_sub_epi64(r, negative, _mm512_setzero_si512(), r)
}

/// Outputs of 8 values in 64-bit lanes: `a + round_shift((b - a) * frac,
/// bits)` is the gain, `centred * gain` is rounded by the value shift.
#[inline]
#[target_feature(enable = "avx512f")]
fn eight_values(centred: __m256i, a: __m256i, diff: __m256i, frac: __m256i, bits: __m256i, p: &LrnI8Params) -> __m512i {
    let wide = _mm512_cvtepi32_epi64;
    let step = round_shift(_mm512_mul_epi32(wide(diff), wide(frac)), wide(bits));
    let gain = _mm512_add_epi64(wide(a), step);
    let value_shift = _mm512_set1_epi64(p.table_params.value_shift as i64);
    let scaled = round_shift(_mm512_mul_epi32(wide(centred), gain), value_shift);
    let y = _mm512_add_epi64(scaled, _mm512_set1_epi64(p.output_zero_point as i64));
    _mm512_min_epi64(_mm512_max_epi64(y, _mm512_set1_epi64(-128)), _mm512_set1_epi64(127))
}

/// `out[i] = lrn_value(p, row[i] - zero point, sums[i])` for `i < out.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx512cd,avx512bw,avx512vl")]
fn values(p: &LrnI8Params, row: &[i8], sums: &[u32; CHUNK], out: &mut [i8]) {
    let n = out.len();
    assert!(n <= CHUNK && row.len() == n, "lrn chunk");
    let zero_point = _mm512_set1_epi32(p.input_zero_point);
    let m = LRN_MANTISSA_BITS as i32;
    for at in (0..n).step_by(LANES) {
        let mask: __mmask16 = if n - at >= LANES { !0 } else { (1 << (n - at)) - 1 };
        // SAFETY: the mask covers `row[at..n]` only; masked-off bytes are not read.
        let x = unsafe { _mm_maskz_loadu_epi8(mask, row.as_ptr().add(at)) };
        let centred = _mm512_sub_epi32(_mm512_cvtepi8_epi32(x), zero_point);
        // SAFETY: `at + 16 <= CHUNK`: `sums` has 16 readable values here.
        let s = unsafe { _mm512_loadu_si512(sums.as_ptr().add(at).cast()) };
        // `lrn_index`: sums below 2^m give octave 0, which the general form
        // turns into index = sum, fraction 0.
        let octave = _mm512_max_epi32(
            _mm512_sub_epi32(_mm512_set1_epi32(31 - m), _mm512_lzcnt_epi32(s)),
            _mm512_setzero_si512(),
        );
        let index = _mm512_add_epi32(_mm512_slli_epi32::<5>(octave), _mm512_srlv_epi32(s, octave));
        let frac = _mm512_and_si512(
            s,
            _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), octave), _mm512_set1_epi32(1)),
        );
        // SAFETY: every sum is at most `lrn_max_sum(size)` (at most `size`
        // squares of centred int8 values, each at most 255^2; lanes past `n`
        // hold 0), so `index + 1 < lrn_table_len(size) == table.len()`
        // (checked by `check_lrn_i8`).
        let (a, b) = unsafe {
            (
                _mm512_i32gather_epi32::<4>(index, p.table.as_ptr()),
                _mm512_i32gather_epi32::<4>(_mm512_add_epi32(index, _mm512_set1_epi32(1)), p.table.as_ptr()),
            )
        };
        let diff = _mm512_sub_epi32(b, a);
        let half = |v: __m512i, upper: bool| {
            if upper {
                _mm512_extracti64x4_epi64::<1>(v)
            } else {
                _mm512_castsi512_si256(v)
            }
        };
        let y = |upper| {
            _mm512_cvtepi64_epi32(eight_values(
                half(centred, upper),
                half(a, upper),
                half(diff, upper),
                half(frac, upper),
                half(octave, upper),
                p,
            ))
        };
        let y = _mm512_cvtepi32_epi8(_mm512_inserti64x4::<1>(_mm512_castsi256_si512(y(false)), y(true)));
        // SAFETY: the mask covers `out[at..n]` only; masked-off bytes are not written.
        unsafe { _mm_mask_storeu_epi8(out.as_mut_ptr().add(at), mask, y) };
    }
}

#[target_feature(enable = "avx512f,avx512cd,avx512bw,avx512vl")]
fn lrn_avx512(p: &LrnI8Params, shape: Shape, input: &[i8], channels: Range<usize>, output: &mut [i8]) {
    let (c, hw) = check_lrn_i8(p, shape, input, &channels, output);
    let half = p.size as usize / 2;
    let (first, zero_point) = (channels.start, p.input_zero_point);
    let square = |v: i8| {
        let d = v as i32 - zero_point;
        (d * d) as u32
    };
    for px in (0..hw).step_by(CHUNK) {
        let n = (hw - px).min(CHUNK);
        let row = |j: usize| &input[j * hw + px..][..n];
        let mut sums = [0u32; CHUNK];
        for j in first.saturating_sub(half)..=(first + half).min(c - 1) {
            sums.iter_mut().zip(row(j)).for_each(|(s, v)| *s += square(*v));
        }
        for ch in channels.clone() {
            values(p, row(ch), &sums, &mut output[(ch - first) * hw + px..][..n]);
            // The window of ch + 1 drops channel ch - half and takes ch + half + 1.
            if ch >= half {
                sums.iter_mut().zip(row(ch - half)).for_each(|(s, v)| *s -= square(*v));
            }
            if ch + half + 1 < c {
                sums.iter_mut().zip(row(ch + half + 1)).for_each(|(s, v)| *s += square(*v));
            }
        }
    }
}

/// Output channels `channels` of the LRN; the caller checked [`available`].
pub fn lrn_i8(p: &LrnI8Params, shape: Shape, input: &[i8], channels: Range<usize>, output: &mut [i8]) {
    assert!(available(), "AVX-512 LRN on a CPU without it");
    // SAFETY: the CPU has AVX-512 F, CD, BW and VL (checked at run time).
    unsafe { lrn_avx512(p, shape, input, channels, output) }
}
