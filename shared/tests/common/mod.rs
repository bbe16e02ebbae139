//! Test fixtures: seeded random models and images.
#![allow(dead_code)]

use shared::float::{FloatModel, SplitMix64};
use shared::format::AlignedBytes;
use shared::quantize::{quantize, Calibration, RangeMethod};
use shared::spec::{AlexNetConfig, ModelSpec, Shape};

/// A narrow small AlexNet for fast tests.
pub fn tiny_spec() -> ModelSpec {
    AlexNetConfig::small(Shape::new(1, 28, 28), 10).with_width(0.25).build().unwrap()
}

/// Smooth random images: low-frequency blobs, closer to photographs than
/// white noise so activations have realistic spread.
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

/// Random float model and its int8 file, calibrated on `calibration` images.
pub fn quantized(spec: &ModelSpec, seed: u64, calibration: usize) -> (FloatModel, AlignedBytes) {
    let float = FloatModel::random(spec, seed);
    let imgs = images(spec, calibration, seed ^ 0xCA11);
    let cal = Calibration::collect(&float, imgs.iter().map(|v| v.as_slice()), RangeMethod::MinMax);
    let bytes = quantize(&float, &cal).unwrap();
    (float, AlignedBytes::new(&bytes))
}
