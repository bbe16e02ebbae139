//! Test fixtures: a narrow network, and seeded random models and images
//! from `shared::synthetic` (the builder `host random-model` uses).
#![allow(dead_code)]

use shared::float::FloatModel;
use shared::format::AlignedBytes;
use shared::spec::{AlexNetConfig, ModelSpec, Shape};

/// A narrow small AlexNet for fast tests.
pub fn tiny_spec() -> ModelSpec {
    AlexNetConfig::small(Shape::new(1, 28, 28), 10).with_width(0.25).build().unwrap()
}

/// Smooth random images (see `shared::synthetic::images`).
pub fn images(spec: &ModelSpec, count: usize, seed: u64) -> Vec<Vec<u8>> {
    shared::synthetic::images(spec, count, seed)
}

/// Random float model and its int8 file, calibrated on `calibration` images.
pub fn quantized(spec: &ModelSpec, seed: u64, calibration: usize) -> (FloatModel, AlignedBytes) {
    let (float, bytes) = shared::synthetic::random_model(spec, seed, calibration).unwrap();
    (float, AlignedBytes::new(&bytes))
}
