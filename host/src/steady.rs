//! Timing a repeated step the way a benchmark's ratio can be trusted: warm
//! up until the step time has settled, then time each of a number of steps
//! and report their median with the spread. `scripts/bench_pytorch.py` and
//! `scripts/bench_onnxruntime.py` time their peers by the same rule.

use std::time::Instant;

/// Warm-up ends when this many consecutive steps lie within
/// [`TOLERANCE`] of their median...
pub const WINDOW: usize = 3;
pub const TOLERANCE: f64 = 0.05;
/// ...and at least this many steps have run (first-touch allocations,
/// thread pools and caches settle in the first ones on every engine seen).
pub const MIN_WARMUP_STEPS: usize = 3;
/// A step time that never settles is reported as such after this long.
pub const MAX_WARMUP_SECS: f64 = 60.0;

/// What a measurement found.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    pub warmup_steps: usize,
    /// False when the warm-up gave up at [`MAX_WARMUP_SECS`].
    pub settled: bool,
    /// Seconds of each timed step, in order.
    pub steps: Vec<f64>,
}

impl Timing {
    pub fn median(&self) -> f64 {
        median(&self.steps)
    }

    pub fn min(&self) -> f64 {
        self.steps.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn max(&self) -> f64 {
        self.steps.iter().copied().fold(0.0, f64::max)
    }

    /// "median of N steps after W warm-up steps (min A, max B)" in `unit`s
    /// per step, `scale` converting seconds to them.
    pub fn describe(&self, scale: f64, unit: &str) -> String {
        let settled = if self.settled { "" } else { ", never settled" };
        format!(
            "median of {} steps after {} warm-up{settled}; min {:.2}, max {:.2} {unit}",
            self.steps.len(),
            self.warmup_steps,
            self.min() * scale,
            self.max() * scale
        )
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Whether the last [`WINDOW`] times lie within [`TOLERANCE`] of their median.
pub fn settled(times: &[f64]) -> bool {
    if times.len() < WINDOW {
        return false;
    }
    let last = &times[times.len() - WINDOW..];
    let m = median(last);
    last.iter().all(|t| (t - m).abs() <= TOLERANCE * m)
}

/// Runs `step` until its time settles, then `timed` more times, each timed.
pub fn measure<E>(timed: usize, mut step: impl FnMut() -> Result<(), E>) -> Result<Timing, E> {
    measure_seconds(timed, || {
        let start = Instant::now();
        step().map(|()| start.elapsed().as_secs_f64())
    })
}

/// [`measure`] of a step that reports its own seconds.
pub fn measure_seconds<E>(timed: usize, mut run: impl FnMut() -> Result<f64, E>) -> Result<Timing, E> {
    let (warmup_steps, settled) = warm_up(&mut run)?;
    Ok(Timing { warmup_steps, settled, steps: time(timed, run)? })
}

/// The warm-up alone: steps run, and whether their time settled.
pub fn warm_up<E>(mut run: impl FnMut() -> Result<f64, E>) -> Result<(usize, bool), E> {
    let mut warmup = Vec::new();
    loop {
        warmup.push(run()?);
        if warmup.len() >= MIN_WARMUP_STEPS && settled(&warmup) {
            return Ok((warmup.len(), true));
        }
        if warmup.iter().sum::<f64>() > MAX_WARMUP_SECS {
            return Ok((warmup.len(), false));
        }
    }
}

/// `timed` (at least one) timed steps after a [`warm_up`].
pub fn time<E>(timed: usize, mut run: impl FnMut() -> Result<f64, E>) -> Result<Vec<f64>, E> {
    (0..timed.max(1)).map(|_| run()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settles_only_when_three_steps_agree() {
        assert!(!settled(&[1.0, 1.0]));
        assert!(settled(&[3.0, 1.0, 1.04, 0.98]));
        assert!(!settled(&[1.0, 1.0, 1.2]));
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn a_slow_start_is_warm_up_not_measurement() {
        // Steps of 5 s, 4 s, then 1 s each: the slow ones must not count.
        let mut k = 0;
        let timing = measure_seconds::<()>(10, || {
            k += 1;
            Ok(match k {
                1 => 5.0,
                2 => 4.0,
                _ => 1.0,
            })
        })
        .unwrap();
        assert_eq!((timing.warmup_steps, timing.settled), (5, true));
        assert_eq!(timing.steps, vec![1.0; 10]);
        assert_eq!((timing.median(), timing.min(), timing.max()), (1.0, 1.0, 1.0));
    }

    #[test]
    fn a_step_that_never_settles_is_reported() {
        let mut k = 0.0;
        let timing = measure_seconds::<()>(10, || {
            k += 1.0;
            Ok(k)
        })
        .unwrap();
        assert!(!timing.settled);
        assert!(timing.describe(1.0, "s").contains("never settled"));
    }
}
