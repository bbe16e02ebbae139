//! `host random-model`: an int8 model with seeded random (He-normal) weights,
//! calibrated on seeded synthetic images. For exercising boards and kernels
//! at any size (the 61 MB paper network included) before, or without, a
//! trained checkpoint; the same seed gives the same file on every machine.

use crate::error::{HostError, Result};
use shared::float::{FloatModel, SplitMix64};
use shared::quantize::{quantize, Calibration, RangeMethod};
use shared::spec::ModelSpec;
use std::path::Path;

/// Smooth random images (low-frequency waves plus noise): activations with a
/// realistic spread, unlike white noise.
pub fn synthetic_images(spec: &ModelSpec, count: usize, seed: u64) -> Vec<Vec<u8>> {
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

/// The model file bytes for `spec` and `seed`.
pub fn build(spec: &ModelSpec, seed: u64, calibration_images: usize) -> Result<(FloatModel, Vec<u8>)> {
    let float = FloatModel::random(spec, seed);
    let bytes = quantize_on_synthetic(&float, seed, calibration_images)?;
    Ok((float, bytes))
}

/// Like [`build`], calibrated on the given images (network input size).
pub fn build_calibrated(spec: &ModelSpec, seed: u64, images: &[Vec<u8>]) -> Result<(FloatModel, Vec<u8>)> {
    let float = FloatModel::random(spec, seed);
    let bytes = quantize_calibrated(&float, images)?;
    Ok((float, bytes))
}

/// `float` quantized with ranges from `count` seeded synthetic images.
pub fn quantize_on_synthetic(float: &FloatModel, seed: u64, count: usize) -> Result<Vec<u8>> {
    quantize_calibrated(float, &synthetic_images(&float.spec, count.max(1), seed ^ 0xCA11_B8A7))
}

fn quantize_calibrated(float: &FloatModel, images: &[Vec<u8>]) -> Result<Vec<u8>> {
    let cal = Calibration::collect(float, images.iter().map(|v| v.as_slice()), RangeMethod::MinMax);
    quantize(float, &cal).map_err(|e| HostError::Usage(format!("quantization failed: {e}")))
}

pub fn run(spec: &ModelSpec, seed: u64, calibration_images: usize, out: &Path) -> Result<()> {
    let (_, bytes) = build(spec, seed, calibration_images)?;
    crate::error::write_atomic(out, &bytes)?;
    println!(
        "wrote {} ({} bytes, {} parameters, seed {seed}, crc32 {:#010x})",
        out.display(),
        bytes.len(),
        spec.param_count(),
        u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().expect("4 bytes"))
    );
    Ok(())
}
