//! Value parsers for numeric flags, so that a value no command can use
//! (NaN, a negative rate, a count of zero, a count too large for memory) is
//! refused by the argument parser with the flag's name, before any work
//! begins. Whole numbers go through [`whole_in`], floats through
//! [`float_in`]; the message says what the flag takes.

use clap::builder::TypedValueParser;
use std::ops::{Bound, RangeBounds};

/// Whole numbers from `min` to `max` (inclusive; `None`: no upper bound).
#[derive(Clone, Copy, Debug)]
pub struct WholeRange {
    min: u64,
    max: Option<u64>,
}

impl WholeRange {
    fn of(range: impl RangeBounds<u64>) -> WholeRange {
        let min = match range.start_bound() {
            Bound::Included(&a) => a,
            Bound::Excluded(&a) => a.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let max = match range.end_bound() {
            Bound::Included(&b) => Some(b),
            Bound::Excluded(&b) => Some(b.saturating_sub(1)),
            Bound::Unbounded => None,
        };
        WholeRange { min, max }
    }

    fn describe(self) -> String {
        match self.max {
            Some(max) => format!("a whole number from {} to {}", self.min, max),
            None => format!("a whole number, {} or more", self.min),
        }
    }
}

/// A whole-number flag (`usize`, `u32`, `u64`) whose value lies in `range`.
pub fn whole_in<T>(range: impl RangeBounds<u64>) -> impl TypedValueParser<Value = T>
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
{
    let range = WholeRange::of(range);
    clap::builder::StringValueParser::new().try_map(move |s: String| {
        let v: u64 = s.trim().parse().map_err(|_| format!("expected {}", range.describe()))?;
        if v < range.min || range.max.is_some_and(|max| v > max) {
            return Err(format!("expected {}", range.describe()));
        }
        T::try_from(v).map_err(|_| format!("too large; expected {}", range.describe()))
    })
}

/// A `usize` flag whose value lies in `range`.
pub fn count(range: impl RangeBounds<u64>) -> impl TypedValueParser<Value = usize> {
    whole_in::<usize>(range)
}

/// A `u32` flag whose value lies in `range`.
pub fn count_u32(range: impl RangeBounds<u64>) -> impl TypedValueParser<Value = u32> {
    whole_in::<u32>(range)
}

/// A `u64` flag whose value lies in `range`.
pub fn count_u64(range: impl RangeBounds<u64>) -> impl TypedValueParser<Value = u64> {
    whole_in::<u64>(range)
}

/// A serial rate the firmware's UART can make ([`shared::settings::BAUD_RANGE`]).
pub fn baud() -> impl TypedValueParser<Value = u32> {
    let range = shared::settings::BAUD_RANGE;
    count_u32(u64::from(*range.start())..=u64::from(*range.end()))
}

/// Which finite values a float flag takes.
#[derive(Clone, Copy, Debug)]
pub enum FloatRange {
    /// Any finite value.
    Finite,
    /// > 0.
    Positive,
    /// >= 0.
    NonNegative,
    /// [0, 1]: a probability.
    Probability,
    /// [0, 1): a fraction that must leave something (dropout, smoothing, momentum).
    BelowOne,
    /// (lo, hi].
    Above(f64, f64),
    /// [lo, hi].
    Within(f64, f64),
}

impl FloatRange {
    fn contains(self, v: f64) -> bool {
        v.is_finite()
            && match self {
                FloatRange::Finite => true,
                FloatRange::Positive => v > 0.0,
                FloatRange::NonNegative => v >= 0.0,
                FloatRange::Probability => (0.0..=1.0).contains(&v),
                FloatRange::BelowOne => (0.0..1.0).contains(&v),
                FloatRange::Above(lo, hi) => v > lo && v <= hi,
                FloatRange::Within(lo, hi) => v >= lo && v <= hi,
            }
    }

    fn describe(self) -> String {
        match self {
            FloatRange::Finite => "a finite number".into(),
            FloatRange::Positive => "a finite number above 0".into(),
            FloatRange::NonNegative => "a finite number, 0 or more".into(),
            FloatRange::Probability => "a number in [0, 1]".into(),
            FloatRange::BelowOne => "a number in [0, 1)".into(),
            FloatRange::Above(lo, hi) => format!("a number in ({lo}, {hi}]"),
            FloatRange::Within(lo, hi) => format!("a number in [{lo}, {hi}]"),
        }
    }
}

/// A float flag (`f32` or `f64`) whose value lies in `range`: NaN and the
/// infinities never do.
pub fn float_in<T>(range: FloatRange) -> impl TypedValueParser<Value = T>
where
    T: std::str::FromStr + Into<f64> + Copy + Clone + Send + Sync + 'static,
{
    clap::builder::StringValueParser::new().try_map(move |s: String| {
        let v: T = s.trim().parse().map_err(|_| format!("not a number; expected {}", range.describe()))?;
        if range.contains(v.into()) {
            Ok(v)
        } else {
            Err(format!("expected {}", range.describe()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_ranges_say_what_they_take() {
        assert_eq!(WholeRange::of(1..).describe(), "a whole number, 1 or more");
        assert_eq!(WholeRange::of(0..=1000).describe(), "a whole number from 0 to 1000");
        assert_eq!(WholeRange::of(1..5).describe(), "a whole number from 1 to 4");
    }

    #[test]
    fn non_finite_values_are_outside_every_range() {
        for r in [
            FloatRange::Finite,
            FloatRange::Positive,
            FloatRange::NonNegative,
            FloatRange::Probability,
            FloatRange::BelowOne,
            FloatRange::Above(50.0, 100.0),
            FloatRange::Within(0.0, 10.0),
        ] {
            assert!(!r.contains(f64::NAN) && !r.contains(f64::INFINITY) && !r.contains(f64::NEG_INFINITY));
        }
        assert!(FloatRange::BelowOne.contains(0.0) && !FloatRange::BelowOne.contains(1.0));
        assert!(FloatRange::Probability.contains(1.0));
        assert!(!FloatRange::Positive.contains(0.0) && FloatRange::NonNegative.contains(0.0));
        assert!(!FloatRange::Above(50.0, 100.0).contains(50.0) && FloatRange::Above(50.0, 100.0).contains(100.0));
    }
}
