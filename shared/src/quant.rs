//! int8 quantization, TFLite/CMSIS-NN scheme: a real value is
//! `scale * (q - zero_point)`; weights are symmetric per output channel
//! (zero point 0, range -127..=127), activations asymmetric per tensor, biases
//! int32 with scale `input_scale * weight_scale`. Rescaling an int32
//! accumulator is integer-only ([`requantize`]), so every CPU gets the same
//! bits. The `f32`/`f64` helpers here run once, when a model is quantized.

use serde::{Deserialize, Serialize};

/// A real multiplier `M` as `multiplier * 2^shift / 2^31`, with `multiplier`
/// in `[2^30, 2^31)` (or 0 for M = 0) and `shift` in `[-31, 30]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requant {
    pub multiplier: i32,
    pub shift: i32,
}

impl Requant {
    pub const ZERO: Requant = Requant { multiplier: 0, shift: 0 };

    /// Whether [`requantize`] is defined for these values (no over-shift).
    pub fn is_valid(&self) -> bool {
        (self.multiplier == 0 || self.multiplier >= 1 << 30) && (-31..=30).contains(&self.shift)
    }

    /// The nearest fixed-point form of `real` (>= 0). `None` if it is too
    /// large (>= 2^30) or not finite.
    pub fn from_real(real: f64) -> Option<Requant> {
        if !real.is_finite() || real < 0.0 {
            return None;
        }
        if real == 0.0 {
            return Some(Requant::ZERO);
        }
        let (mantissa, mut exponent) = libm::frexp(real);
        let mut q = libm::round(mantissa * (1i64 << 31) as f64) as i64;
        if q == 1i64 << 31 {
            q /= 2;
            exponent += 1;
        }
        if exponent < -31 {
            // Below 2^-32: every int32 accumulator rounds to zero.
            return Some(Requant::ZERO);
        }
        if exponent > 30 {
            return None;
        }
        Some(Requant { multiplier: q as i32, shift: exponent })
    }

    /// The real value this represents (for reports and tests).
    pub fn to_real(&self) -> f64 {
        self.multiplier as f64 * libm::pow(2.0, (self.shift - 31) as f64)
    }
}

/// `round(a * b / 2^31)`, saturating the one overflowing case (gemmlowp's
/// SaturatingRoundingDoublingHighMul).
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero (gemmlowp's
/// RoundingDivideByPOT). `exponent` must be in `0..=31`.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    debug_assert!((0..=31).contains(&exponent));
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + (remainder > threshold) as i32
}

/// The one requantization every int8 layer uses:
/// `round(x * multiplier * 2^shift / 2^31)` (TFLite's
/// MultiplyByQuantizedMultiplier). `rq` must satisfy [`Requant::is_valid`].
#[inline(always)]
pub fn requantize(x: i32, rq: Requant) -> i32 {
    let left = rq.shift.max(0);
    let right = rq.shift.saturating_neg().max(0);
    let shifted = x.saturating_mul(1i32 << left.min(30));
    rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, rq.multiplier), right.min(31))
}

/// The int8 output stage of every weighted layer: requantize, add the output
/// zero point, clamp (the clamp also does a fused ReLU).
#[inline(always)]
pub fn output_i8(acc: i32, rq: Requant, output_offset: i32, act_min: i32, act_max: i32) -> i8 {
    requantize(acc, rq).wrapping_add(output_offset).clamp(act_min, act_max) as i8
}

/// Scale and zero point of an int8 tensor.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QParams {
    pub scale: f32,
    pub zero_point: i32,
}

impl QParams {
    /// Asymmetric int8 parameters covering `[min, max]` (widened to include 0,
    /// so zero padding is exact).
    pub fn from_range(min: f32, max: f32) -> QParams {
        let min = min.min(0.0);
        let max = max.max(0.0);
        let range = max - min;
        let scale = if range > 0.0 && range.is_finite() { range / 255.0 } else { 1.0 };
        let zero_point = libm::roundf(-128.0 - min / scale) as i32;
        QParams { scale, zero_point: zero_point.clamp(-128, 127) }
    }

    pub fn is_valid(&self) -> bool {
        self.scale > 0.0 && self.scale.is_finite() && (-128..=127).contains(&self.zero_point)
    }

    pub fn quantize(&self, x: f32) -> i8 {
        let q = libm::roundf(x / self.scale) as i32 + self.zero_point;
        q.clamp(-128, 127) as i8
    }

    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (q as i32 - self.zero_point) as f32
    }

    /// Smallest int8 value that a fused ReLU lets through.
    pub fn relu_min(&self) -> i32 {
        self.zero_point.max(-128)
    }
}

/// Symmetric per-output-channel weight quantization. `weights` holds
/// `scales.len()` equal rows (one per output channel); writes int8 weights to
/// `out` and each row's scale to `scales`.
pub fn quantize_weights_per_channel(weights: &[f32], out: &mut [i8], scales: &mut [f32]) {
    let rows = scales.len();
    let row_len = weights.len() / rows.max(1);
    assert_eq!(row_len * rows, weights.len(), "weights do not split into equal rows");
    assert_eq!(out.len(), weights.len());
    for (r, scale) in scales.iter_mut().enumerate() {
        let row = &weights[r * row_len..(r + 1) * row_len];
        let max_abs = row.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        *scale = if max_abs > 0.0 { max_abs / 127.0 } else { 1.0 };
        for (q, w) in out[r * row_len..(r + 1) * row_len].iter_mut().zip(row) {
            *q = libm::roundf(w / *scale).clamp(-127.0, 127.0) as i8;
        }
    }
}

/// int32 bias with scale `input_scale * weight_scale`, saturating.
pub fn quantize_bias(bias: f32, input_scale: f32, weight_scale: f32) -> i32 {
    let q = libm::round(bias as f64 / (input_scale as f64 * weight_scale as f64));
    q.clamp(i32::MIN as f64, i32::MAX as f64) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn from_real_round_trips() {
        for real in [1.0, 0.5, 0.123456, 1e-6, 3.75, 1234.5] {
            let rq = Requant::from_real(real).unwrap();
            assert!(rq.is_valid(), "{rq:?}");
            assert!((rq.to_real() - real).abs() / real < 1e-9);
        }
        assert_eq!(Requant::from_real(0.0), Some(Requant::ZERO));
        assert_eq!(Requant::from_real(f64::NAN), None);
        assert_eq!(Requant::from_real(2f64.powi(31)), None);
    }

    #[test]
    fn rounding_divide_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 1), 2);
        assert_eq!(rounding_divide_by_pot(-7, 2), -2);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    }

    proptest! {
        #[test]
        fn requantize_matches_real_arithmetic(x in -(1i32 << 24)..(1i32 << 24), real in 1e-6f64..100.0) {
            let rq = Requant::from_real(real).unwrap();
            let got = requantize(x, rq) as f64;
            let want = x as f64 * rq.to_real();
            // One rounding of the high product, one of the shift.
            prop_assert!((got - want).abs() <= 1.0 + want.abs() * 1e-9, "x={} real={} got={} want={}", x, real, got, want);
        }

        #[test]
        fn requantize_never_panics(x in any::<i32>(), m in (1i32 << 30)..=i32::MAX, s in -31i32..=30) {
            let _ = requantize(x, Requant { multiplier: m, shift: s });
        }

        #[test]
        fn qparams_round_trip_within_half_step(min in -50f32..0.0, max in 0.01f32..50.0, t in 0f32..1.0) {
            let qp = QParams::from_range(min, max);
            prop_assert!(qp.is_valid());
            let x = min + t * (max - min);
            let back = qp.dequantize(qp.quantize(x));
            prop_assert!((back - x).abs() <= qp.scale * 0.5 + qp.scale * 1e-3 + 1e-6);
            // Zero is exactly representable.
            prop_assert_eq!(qp.dequantize(qp.zero_point as i8), 0.0);
        }
    }

    #[test]
    fn per_channel_weights_use_full_range() {
        let w = [0.5, -0.25, 0.0, 0.01, -0.02, 0.005];
        let mut q = [0i8; 6];
        let mut s = [0f32; 2];
        quantize_weights_per_channel(&w, &mut q, &mut s);
        assert_eq!(q[0], 127);
        assert_eq!(q[4], -127);
        assert!((s[0] - 0.5 / 127.0).abs() < 1e-9);
    }
}
