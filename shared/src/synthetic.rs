//! Seeded synthetic models and images, for exercising kernels and boards at
//! any size before, or without, a trained network: `host random-model`,
//! `host bench-infer` and the tests of every crate build them here. The same
//! seed gives the same bytes on every machine (`std`'s `sin`, the one these
//! images were first drawn with, keeps earlier files reproducible).

use crate::float::{FloatModel, SplitMix64};
use crate::quantize::{quantize, Calibration, QuantizeError, RangeMethod};
use crate::spec::ModelSpec;
extern crate std;
use std::vec::Vec;

/// Smooth random images (low-frequency waves plus noise): activations with a
/// realistic spread, unlike white noise.
pub fn images(spec: &ModelSpec, count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = SplitMix64::new(seed);
    let (c, h, w) = (spec.input.c as usize, spec.input.h as usize, spec.input.w as usize);
    (0..count)
        .map(|_| {
            let (fx, fy, phase) = (rng.next_f64() * 0.5, rng.next_f64() * 0.5, rng.next_f64() * 6.3);
            (0..c * h * w)
                .map(|i| {
                    let (y, x) = ((i / w) % h, i % w);
                    let v = ((x as f64 * fx + y as f64 * fy + phase).sin() * 0.5 + 0.5) * 255.0;
                    (v * 0.8 + rng.next_f64() * 51.0) as u8
                })
                .collect()
        })
        .collect()
}

/// The model file of `float` with activation ranges from `images`
/// (network input size).
pub fn quantize_calibrated(float: &FloatModel, images: &[Vec<u8>]) -> Result<Vec<u8>, QuantizeError> {
    let cal = Calibration::collect(float, images.iter().map(|v| v.as_slice()), RangeMethod::MinMax);
    quantize(float, &cal)
}

/// The model file of `float` calibrated on `count` synthetic images drawn
/// from `seed`.
pub fn quantize_on_synthetic(float: &FloatModel, seed: u64, count: usize) -> Result<Vec<u8>, QuantizeError> {
    quantize_calibrated(float, &images(&float.spec, count.max(1), seed ^ 0xCA11_B8A7))
}

/// A He-normal random network for `spec` and `seed`, and its model file
/// calibrated on `calibration_images` synthetic images.
pub fn random_model(
    spec: &ModelSpec,
    seed: u64,
    calibration_images: usize,
) -> Result<(FloatModel, Vec<u8>), QuantizeError> {
    let float = FloatModel::random(spec, seed);
    let bytes = quantize_on_synthetic(&float, seed, calibration_images)?;
    Ok((float, bytes))
}
