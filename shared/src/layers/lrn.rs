//! Local response normalisation across channels (paper section 3.3):
//! `b[c] = a[c] / (k + alpha * sum_{|j-c| <= n/2} a[j]^2)^beta`.
//!
//! int8 design (TFLite has no int8 LRN): with `d = q - zero_point` the window
//! sum `S = sum d^2` is an exact integer, and the output is
//! `d * g(S)` with `g(S) = (s_in / s_out) * (k + alpha * s_in^2 * S)^-beta`.
//! `g` is smooth and decreasing, so a 256-segment table of `g` in fixed point,
//! read with linear interpolation, replaces the power function. The table is
//! computed once when the model is quantized and stored in the model file:
//! the device only does integer lookups, so every CPU produces the same bits.
//! Measured error against the f32 formula: at most 1 output step (see tests).

use crate::quant::QParams;
use crate::spec::{LrnSpec, Shape};

/// The table is indexed like a float: sums below `2^MANTISSA_BITS` index it
/// directly, larger ones by octave plus the next `MANTISSA_BITS` bits, so every
/// segment spans at most 1/32 of its sum. `g` is steepest near 0, where a
/// uniform grid would be coarsest; this grid keeps the interpolation error far
/// below one output step over the whole range.
pub const LRN_MANTISSA_BITS: u32 = 5;
/// Table entries are in `0..LRN_TABLE_LIMIT` (`g` is positive); a model file
/// with others is refused, so kernels may compute differences of entries in
/// 32 bits.
pub const LRN_TABLE_LIMIT: i32 = 1 << 30;
/// Largest fixed-point fraction width of table values.
const MAX_VALUE_SHIFT: u32 = 46;

/// Plain f32 LRN over CHW `input`.
pub fn lrn_f32_ref(spec: &LrnSpec, shape: Shape, input: &[f32], output: &mut [f32]) {
    let (c, hw) = (shape.c as usize, shape.h as usize * shape.w as usize);
    let half = spec.size as usize / 2;
    assert_eq!(input.len(), shape.len(), "lrn input length");
    assert_eq!(output.len(), shape.len(), "lrn output length");
    for ch in 0..c {
        let (lo, hi) = (ch.saturating_sub(half), (ch + half).min(c - 1));
        for p in 0..hw {
            let sum: f32 = (lo..=hi).map(|j| input[j * hw + p] * input[j * hw + p]).sum();
            let a = input[ch * hw + p];
            output[ch * hw + p] = a / libm::powf(spec.k + spec.alpha * sum, spec.beta);
        }
    }
}

/// Largest window sum of squared centred int8 values.
pub fn lrn_max_sum(size: u32) -> u32 {
    size * 255 * 255
}

/// Table index of window sum `sum`, with the sub-segment remainder and its
/// width as a power of two: `(index, fraction, fraction_bits)`.
#[inline(always)]
pub fn lrn_index(sum: u32) -> (usize, u32, u32) {
    let m = LRN_MANTISSA_BITS;
    if sum < 1 << m {
        return (sum as usize, 0, 0);
    }
    let octave = (31 - sum.leading_zeros()) - m;
    let index = ((octave + 1) << m) + ((sum >> octave) - (1 << m));
    (index as usize, sum & ((1 << octave) - 1), octave)
}

/// The window sum at which table entry `index` is sampled.
pub fn lrn_sample_sum(index: usize) -> u64 {
    let m = LRN_MANTISSA_BITS;
    let index = index as u64;
    if index < 1 << m {
        return index;
    }
    let octave = (index >> m) - 1;
    ((1 << m) + (index & ((1 << m) - 1))) << octave
}

/// Table length for a window of `size` channels (one extra entry so the last
/// segment can interpolate).
pub fn lrn_table_len(size: u32) -> usize {
    lrn_index(lrn_max_sum(size)).0 + 2
}

/// Integer parameters of an int8 LRN, stored in the model file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LrnTableParams {
    /// Always [`LRN_MANTISSA_BITS`]; stored so a future layout is detected.
    pub mantissa_bits: u32,
    /// Table values are `g * 2^value_shift`.
    pub value_shift: u32,
}

impl LrnTableParams {
    pub fn is_valid(&self, size: u32) -> bool {
        let _ = size;
        self.mantissa_bits == LRN_MANTISSA_BITS && self.value_shift <= MAX_VALUE_SHIFT
    }
}

/// Fills `table` (of [`lrn_table_len`] entries) for the given quantization;
/// `None` if the scales put `g` beyond what fixed point represents.
pub fn build_lrn_table(spec: &LrnSpec, input: QParams, output: QParams, table: &mut [i32]) -> Option<LrnTableParams> {
    assert_eq!(table.len(), lrn_table_len(spec.size));
    let s_in = input.scale as f64;
    let ratio = s_in / output.scale as f64;
    let g = |sum: f64| ratio * libm::pow(spec.k as f64 + spec.alpha as f64 * s_in * s_in * sum, -(spec.beta as f64));
    let g0 = g(0.0);
    if !(g0.is_finite() && g0 > 0.0) {
        return None;
    }
    // Largest fraction width keeping every entry, rounded, below 2^30.
    let mut value_shift = MAX_VALUE_SHIFT;
    while libm::round(g0 * libm::pow(2.0, value_shift as f64)) >= LRN_TABLE_LIMIT as f64 {
        if value_shift == 0 {
            return None;
        }
        value_shift -= 1;
    }
    let unit = libm::pow(2.0, value_shift as f64);
    for (i, t) in table.iter_mut().enumerate() {
        *t = libm::round(g(lrn_sample_sum(i) as f64) * unit) as i32;
    }
    Some(LrnTableParams { mantissa_bits: LRN_MANTISSA_BITS, value_shift })
}

/// Parameters of an int8 LRN, filled when a model is loaded.
#[derive(Clone, Copy, Debug)]
pub struct LrnI8Params<'a> {
    pub size: u32,
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    pub table_params: LrnTableParams,
    pub table: &'a [i32],
}

/// `x / 2^shift` rounded half away from zero.
#[inline(always)]
fn round_shift(x: i64, shift: u32) -> i64 {
    if shift == 0 {
        return x;
    }
    let half = 1i64 << (shift - 1);
    if x >= 0 {
        (x + half) >> shift
    } else {
        -((-x + half) >> shift)
    }
}

/// `g(sum)` in fixed point, interpolated between table entries.
#[inline(always)]
pub fn lrn_gain(p: &LrnI8Params, sum: u32) -> i64 {
    let (i, frac, bits) = lrn_index(sum);
    let (a, b) = (p.table[i] as i64, p.table[i + 1] as i64);
    a + round_shift((b - a) * frac as i64, bits)
}

/// One int8 output: centred input `centred` times the gain of window sum
/// `sum`, back to the output's zero point.
#[inline(always)]
pub(crate) fn lrn_value(p: &LrnI8Params, centred: i32, sum: u32) -> i8 {
    let scaled = round_shift(centred as i64 * lrn_gain(p, sum), p.table_params.value_shift);
    (scaled + p.output_zero_point as i64).clamp(-128, 127) as i8
}

/// The int8 LRN: integer window sums, table gain, fixed-point product.
pub fn lrn_i8_ref(p: &LrnI8Params, shape: Shape, input: &[i8], output: &mut [i8]) {
    lrn_i8_channels(p, shape, input, 0..shape.c as usize, output)
}

/// Panics unless the slices fit `shape` and `channels`; returns the channel
/// count and the plane size.
pub(crate) fn check_lrn_i8(
    p: &LrnI8Params,
    shape: Shape,
    input: &[i8],
    channels: &core::ops::Range<usize>,
    output: &[i8],
) -> (usize, usize) {
    let (c, hw) = (shape.c as usize, shape.h as usize * shape.w as usize);
    assert_eq!(input.len(), shape.len(), "lrn input length");
    assert!(channels.end <= c, "lrn channels {channels:?} of {c}");
    assert_eq!(output.len(), channels.len() * hw, "lrn output length");
    assert_eq!(p.table.len(), lrn_table_len(p.size), "lrn table length");
    (c, hw)
}

/// [`lrn_i8_ref`] for output channels `channels` only (`output` holds
/// those), so cores can share a layer.
pub fn lrn_i8_channels(
    p: &LrnI8Params,
    shape: Shape,
    input: &[i8],
    channels: core::ops::Range<usize>,
    output: &mut [i8],
) {
    let (c, hw) = check_lrn_i8(p, shape, input, &channels, output);
    let half = p.size as usize / 2;
    let centred = |j: usize, px: usize| input[j * hw + px] as i32 - p.input_zero_point;
    let first = channels.start;
    for ch in channels {
        let (lo, hi) = (ch.saturating_sub(half), (ch + half).min(c - 1));
        for px in 0..hw {
            let sum: u32 = (lo..=hi).map(|j| (centred(j, px) * centred(j, px)) as u32).sum();
            output[(ch - first) * hw + px] = lrn_value(p, centred(ch, px), sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn f32_lrn_matches_hand_computation() {
        let spec = LrnSpec::PAPER;
        // 3 channels, 1 pixel: window of channel 0 is channels 0..=2.
        let input = [1.0f32, 2.0, 3.0];
        let mut out = [0.0f32; 3];
        lrn_f32_ref(&spec, Shape::new(3, 1, 1), &input, &mut out);
        let want = 1.0 / (2.0f32 + 1e-4 * 14.0).powf(0.75);
        assert!((out[0] - want).abs() < 1e-6);
    }

    #[test]
    fn table_index_brackets_every_sum() {
        assert_eq!(lrn_table_len(5), 457);
        for sum in (0..=lrn_max_sum(15)).step_by(7).chain([lrn_max_sum(15)]) {
            let (i, frac, bits) = lrn_index(sum);
            let lo = lrn_sample_sum(i);
            assert_eq!(lo + frac as u64, sum as u64);
            assert_eq!(lrn_sample_sum(i + 1) - lo, 1 << bits, "sum {sum}");
            assert!(frac < 1 << bits || bits == 0);
        }
    }

    fn check_against_f32(spec: LrnSpec, channels: u32, qin: QParams, qout: QParams, data: &[i8]) -> i32 {
        let shape = Shape::new(channels, 1, (data.len() / channels as usize) as u32);
        let mut table = std::vec![0i32; lrn_table_len(spec.size)];
        let tp = build_lrn_table(&spec, qin, qout, &mut table).unwrap();
        let params = LrnI8Params {
            size: spec.size,
            input_zero_point: qin.zero_point,
            output_zero_point: qout.zero_point,
            table_params: tp,
            table: &table,
        };
        let mut out_q = std::vec![0i8; data.len()];
        lrn_i8_ref(&params, shape, data, &mut out_q);
        let real: std::vec::Vec<f32> = data.iter().map(|q| qin.dequantize(*q)).collect();
        let mut out_f = std::vec![0f32; data.len()];
        lrn_f32_ref(&spec, shape, &real, &mut out_f);
        out_q.iter().zip(&out_f).map(|(q, f)| (*q as i32 - qout.quantize(*f) as i32).abs()).max().unwrap()
    }

    proptest! {
        /// The int8 LRN is within one output step of the f32 formula, for
        /// post-ReLU ranges like AlexNet's (up to a few hundred) and beyond.
        #[test]
        fn int8_lrn_within_one_step_of_f32(
            channels in 1u32..40,
            pixels in 1usize..6,
            max_in in 0.5f32..400.0,
            alpha_scale in 0.1f32..100.0,
            seed in any::<u64>(),
        ) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let spec = LrnSpec { alpha: 1e-4 * alpha_scale, ..LrnSpec::PAPER };
            let qin = QParams::from_range(0.0, max_in);
            // Output range: the largest possible LRN output for this input range.
            let qout = QParams::from_range(0.0, max_in / libm::powf(spec.k, spec.beta));
            let data: std::vec::Vec<i8> = (0..channels as usize * pixels).map(|_| rng.gen()).collect();
            let err = check_against_f32(spec, channels, qin, qout, &data);
            prop_assert!(err <= 1, "max error {} steps", err);
        }
    }

    #[test]
    fn signed_inputs_are_handled() {
        // Without a ReLU before it the input range straddles zero.
        let spec = LrnSpec::PAPER;
        let qin = QParams::from_range(-50.0, 50.0);
        let qout = QParams::from_range(-30.0, 30.0);
        let data: std::vec::Vec<i8> = (-128..=127).collect();
        assert!(check_against_f32(spec, 16, qin, qout, &data) <= 1);
    }
}
