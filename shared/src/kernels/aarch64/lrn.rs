//! NEON int8 LRN, the same bits as [`crate::layers::lrn::lrn_i8_channels`]:
//! 16 pixels at a time, channel after channel, their window sums kept in
//! four registers and slid by one channel (`SMLAL` adds the squares of the
//! entering channel, `SMLSL` takes those of the leaving one). The gain's
//! table index comes from `CLZ` like a float's exponent; the two table
//! entries of each lane are loaded into lanes (ARMv8.0 has no gather), and
//! the interpolation and the fixed-point product run in 64-bit lanes where
//! the scalar code uses `i64`.
//!
//! Two facts keep parts of it in 32 bits: table entries are in `0..2^30`
//! (`Model::parse` refuses other tables), so `b - a` fits; and the
//! interpolation step is at most `|b - a|`, so the gain lies between `a`
//! and `b`.

use super::{load16, store16};
use crate::layers::lrn::{check_lrn_i8, LrnI8Params, LRN_MANTISSA_BITS};
use crate::spec::Shape;
use core::arch::aarch64::*;
use core::ops::Range;

/// Pixels per step: one vector of int8 values.
const LANES: usize = 16;

/// Per-call constants, in registers.
struct Consts {
    zero_point: int16x8_t,
    output_zero_point: int32x4_t,
    /// `31 - LRN_MANTISSA_BITS`: the octave of a sum is this minus its CLZ.
    octave_base: int32x4_t,
    one: int32x4_t,
    /// Rounding half of the value shift, and the shift negated (`USHL`
    /// shifts right by a negative amount).
    value_half: int64x2_t,
    value_shift_right: int64x2_t,
}

impl Consts {
    fn new(p: &LrnI8Params) -> Consts {
        let shift = p.table_params.value_shift as i64;
        // SAFETY: NEON is part of the aarch64 baseline this crate is built for.
        unsafe {
            Consts {
                zero_point: vdupq_n_s16(p.input_zero_point as i16),
                output_zero_point: vdupq_n_s32(p.output_zero_point),
                octave_base: vdupq_n_s32(31 - LRN_MANTISSA_BITS as i32),
                one: vdupq_n_s32(1),
                value_half: vdupq_n_s64(if shift == 0 { 0 } else { 1 << (shift - 1) }),
                value_shift_right: vdupq_n_s64(-shift),
            }
        }
    }
}

/// `x / 2^bits` rounded half away from zero, as the scalar `round_shift`,
/// given `half = 2^bits / 2` (0 for no shift) and `-bits`.
#[inline(always)]
fn round_shift(x: int64x2_t, half: int64x2_t, shift_right: int64x2_t) -> int64x2_t {
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe {
        // All ones where x is negative; |x| < 2^47 here, so abs is exact.
        let sign = vshrq_n_s64::<63>(x);
        let magnitude = vreinterpretq_u64_s64(vaddq_s64(vabsq_s64(x), half));
        let r = vreinterpretq_s64_u64(vshlq_u64(magnitude, shift_right));
        vsubq_s64(veorq_s64(r, sign), sign)
    }
}

/// Centred values as int16: `x - zero_point` of the low and high 8 bytes.
#[inline(always)]
fn centred(x: int8x16_t, k: &Consts) -> (int16x8_t, int16x8_t) {
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe { (vsubq_s16(vmovl_s8(vget_low_s8(x)), k.zero_point), vsubq_s16(vmovl_high_s8(x), k.zero_point)) }
}

/// Window sums of 16 pixels, four per register; at most
/// `lrn_max_sum(size)`, so they fit `i32`.
struct Sums([int32x4_t; 4]);

impl Sums {
    fn zero() -> Sums {
        // SAFETY: NEON is part of the aarch64 baseline.
        Sums([unsafe { vdupq_n_s32(0) }; 4])
    }

    /// Adds the squares of one channel's 16 centred values.
    #[inline(always)]
    fn add(&mut self, x: int8x16_t, k: &Consts) {
        let (lo, hi) = centred(x, k);
        let s = &mut self.0;
        // SAFETY: NEON is part of the aarch64 baseline.
        unsafe {
            s[0] = vmlal_s16(s[0], vget_low_s16(lo), vget_low_s16(lo));
            s[1] = vmlal_high_s16(s[1], lo, lo);
            s[2] = vmlal_s16(s[2], vget_low_s16(hi), vget_low_s16(hi));
            s[3] = vmlal_high_s16(s[3], hi, hi);
        }
    }

    /// Takes the squares of one channel's 16 centred values away.
    #[inline(always)]
    fn sub(&mut self, x: int8x16_t, k: &Consts) {
        let (lo, hi) = centred(x, k);
        let s = &mut self.0;
        // SAFETY: NEON is part of the aarch64 baseline.
        unsafe {
            s[0] = vmlsl_s16(s[0], vget_low_s16(lo), vget_low_s16(lo));
            s[1] = vmlsl_high_s16(s[1], lo, lo);
            s[2] = vmlsl_s16(s[2], vget_low_s16(hi), vget_low_s16(hi));
            s[3] = vmlsl_high_s16(s[3], hi, hi);
        }
    }
}

/// `table[index[l]]` and `table[index[l] + 1]` of each lane `l`.
#[inline(always)]
fn table_pairs(table: &[i32], index: int32x4_t) -> (int32x4_t, int32x4_t) {
    let t = table.as_ptr();
    // SAFETY: every index comes from a window sum of at most
    // `lrn_max_sum(size)` (at most `size` squares of centred int8 values,
    // each at most 255^2, padded lanes included), so `index + 1 <
    // lrn_table_len(size) == table.len()` (checked by `check_lrn_i8`). Lane
    // loads need only the 4-byte alignment every `&[i32]` has.
    unsafe {
        let at = |lane: i32| t.add(lane as usize);
        let (i0, i1, i2, i3) = (
            vgetq_lane_s32::<0>(index),
            vgetq_lane_s32::<1>(index),
            vgetq_lane_s32::<2>(index),
            vgetq_lane_s32::<3>(index),
        );
        let mut a = vdupq_n_s32(0);
        let mut b = vdupq_n_s32(0);
        a = vld1q_lane_s32::<0>(at(i0), a);
        b = vld1q_lane_s32::<0>(at(i0).add(1), b);
        a = vld1q_lane_s32::<1>(at(i1), a);
        b = vld1q_lane_s32::<1>(at(i1).add(1), b);
        a = vld1q_lane_s32::<2>(at(i2), a);
        b = vld1q_lane_s32::<2>(at(i2).add(1), b);
        a = vld1q_lane_s32::<3>(at(i3), a);
        b = vld1q_lane_s32::<3>(at(i3).add(1), b);
        (a, b)
    }
}

/// `lrn_gain` of four window sums (each at most `lrn_max_sum(size)`).
#[inline(always)]
fn four_gains(table: &[i32], sums: int32x4_t, k: &Consts) -> int32x4_t {
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe {
        let s = vreinterpretq_u32_s32(sums);
        // `lrn_index`: sums below 2^m give octave 0, which the general form
        // turns into index = sum, fraction 0.
        let octave = vmaxq_s32(vsubq_s32(k.octave_base, vreinterpretq_s32_u32(vclzq_u32(s))), vdupq_n_s32(0));
        let octave_right = vnegq_s32(octave);
        let shifted = vreinterpretq_s32_u32(vshlq_u32(s, octave_right));
        let index = vaddq_s32(vshlq_n_s32::<{ LRN_MANTISSA_BITS as i32 }>(octave), shifted);
        let unit = vshlq_s32(k.one, octave);
        let frac = vandq_s32(sums, vsubq_s32(unit, k.one));
        let half = vshrq_n_s32::<1>(unit);
        let (a, b) = table_pairs(table, index);
        let diff = vsubq_s32(b, a);
        // gain = a + round_shift(diff * frac, octave)
        let step_lo = round_shift(
            vmull_s32(vget_low_s32(diff), vget_low_s32(frac)),
            vmovl_s32(vget_low_s32(half)),
            vmovl_s32(vget_low_s32(octave_right)),
        );
        let step_hi = round_shift(vmull_high_s32(diff, frac), vmovl_high_s32(half), vmovl_high_s32(octave_right));
        vaddq_s32(a, vcombine_s32(vmovn_s64(step_lo), vmovn_s64(step_hi)))
    }
}

/// `lrn_value` of four lanes, saturated to `i32` with the output zero point
/// added (the narrowing to int8 that follows saturates, which is the
/// scalar clamp).
#[inline(always)]
fn four_values(table: &[i32], sums: int32x4_t, centred: int32x4_t, k: &Consts) -> int32x4_t {
    let gain = four_gains(table, sums, k);
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe {
        // round_shift(centred * gain, value_shift) + output zero point
        let y_lo = round_shift(vmull_s32(vget_low_s32(centred), vget_low_s32(gain)), k.value_half, k.value_shift_right);
        let y_hi = round_shift(vmull_high_s32(centred, gain), k.value_half, k.value_shift_right);
        vqaddq_s32(vcombine_s32(vqmovn_s64(y_lo), vqmovn_s64(y_hi)), k.output_zero_point)
    }
}

/// The 16 outputs of one channel's values `x` and window sums `sums`.
#[inline(always)]
fn sixteen_values(table: &[i32], x: int8x16_t, sums: &Sums, k: &Consts) -> int8x16_t {
    let (lo, hi) = centred(x, k);
    let s = &sums.0;
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe {
        let y0 = four_values(table, s[0], vmovl_s16(vget_low_s16(lo)), k);
        let y1 = four_values(table, s[1], vmovl_high_s16(lo), k);
        let y2 = four_values(table, s[2], vmovl_s16(vget_low_s16(hi)), k);
        let y3 = four_values(table, s[3], vmovl_high_s16(hi), k);
        let lo = vcombine_s16(vqmovn_s32(y0), vqmovn_s32(y1));
        let hi = vcombine_s16(vqmovn_s32(y2), vqmovn_s32(y3));
        vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi))
    }
}

/// Output channels `channels` of the LRN of `input` (CHW, `shape`) into
/// `output`, which holds those channels.
pub fn lrn_i8(p: &LrnI8Params, shape: Shape, input: &[i8], channels: Range<usize>, output: &mut [i8]) {
    let (c, hw) = check_lrn_i8(p, shape, input, &channels, output);
    if channels.is_empty() {
        return;
    }
    let half = p.size as usize / 2;
    let first = channels.start;
    let k = Consts::new(p);
    for px in (0..hw).step_by(LANES) {
        let n = (hw - px).min(LANES);
        // A short last step reads and writes its `n` pixels only; the
        // other lanes compute on zeros and are dropped.
        let row = |j: usize| load16(&input[j * hw + px..][..n]);
        let mut sums = Sums::zero();
        for j in first.saturating_sub(half)..=(first + half).min(c - 1) {
            sums.add(row(j), &k);
        }
        for ch in channels.clone() {
            let y = sixteen_values(p.table, row(ch), &sums, &k);
            store16(&mut output[(ch - first) * hw + px..][..n], y);
            // The window of ch + 1 drops channel ch - half and takes ch + half + 1.
            if ch >= half {
                sums.sub(row(ch - half), &k);
            }
            if ch + half + 1 < c {
                sums.add(row(ch + half + 1), &k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::lrn::{build_lrn_table, lrn_gain, lrn_max_sum, lrn_table_len};
    use crate::quant::QParams;
    use crate::spec::LrnSpec;
    use proptest::prelude::*;

    proptest! {
        /// The interpolated gain itself, whose last bit the int8 outputs
        /// rarely show: every sum up to the largest, any scales.
        #[test]
        fn gains_equal_the_scalar_gain(
            size in prop_oneof![Just(1u32), Just(3), Just(5), Just(7)],
            scale_in in 0.001f32..0.5,
            scale_out in 0.001f32..0.5,
            sums in proptest::array::uniform4(any::<u32>()),
        ) {
            let spec = LrnSpec { size, ..LrnSpec::PAPER };
            let (qin, qout) = (QParams { scale: scale_in, zero_point: 3 }, QParams { scale: scale_out, zero_point: -5 });
            let mut table = std::vec![0i32; lrn_table_len(size)];
            let Some(table_params) = build_lrn_table(&spec, qin, qout, &mut table) else { return Ok(()) };
            let p = LrnI8Params { size, input_zero_point: 3, output_zero_point: -5, table_params, table: &table };
            let sums = sums.map(|s| s % (lrn_max_sum(size) + 1));
            // SAFETY: NEON is part of the aarch64 baseline; the array has four lanes.
            let got = unsafe { four_gains(&table, vld1q_s32(sums.map(|s| s as i32).as_ptr()), &Consts::new(&p)) };
            let mut lanes = [0i32; 4];
            // SAFETY: as above.
            unsafe { vst1q_s32(lanes.as_mut_ptr(), got) };
            prop_assert_eq!(lanes.map(i64::from), sums.map(|s| lrn_gain(&p, s)));
        }
    }
}
