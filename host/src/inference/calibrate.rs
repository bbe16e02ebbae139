//! Activation ranges for `host quantize` on the fast float engine: the dfdx
//! network (batched, all cores) instead of the plain reference layers, which
//! take about a second per paper-network image on one core. Ranges are per
//! image then widened, exactly as `shared::quantize::Calibration::collect`
//! does, so the two agree up to float rounding (tested).

use super::float::FloatNet;
use crate::progress::Progress;
use crate::train::preprocess::normalize_batch;
use shared::float::FloatModel;
use shared::quantize::{Calibration, RangeMethod};

/// Images per forward pass.
const BATCH: usize = 16;

/// Observes every layer's output on `images` (network input size).
pub fn collect(model: &FloatModel, images: &[Vec<u8>], method: RangeMethod) -> Calibration {
    let net = FloatNet::new(model);
    let mut cal = Calibration::empty(model.layers.len());
    let mut progress = Progress::new("calibrate", images.len() as u64);
    for batch in images.chunks(BATCH) {
        let data = normalize_batch(&model.spec, batch.iter().map(Vec::as_slice));
        for image in data.chunks_exact(model.spec.input.len()) {
            cal.observe(None, image, method);
        }
        let x = net.tensor(data);
        let mut observe = |layer: usize, values: Vec<f32>| {
            for image in values.chunks_exact(values.len() / batch.len()) {
                cal.observe(Some(layer), image, method);
            }
        };
        net.net.forward_observed(x, None, Some(&mut observe));
        progress.inc(batch.len() as u64, "");
    }
    progress.finish();
    cal
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::spec::{AlexNetConfig, Shape};

    #[test]
    fn ranges_equal_the_reference_path_up_to_rounding() {
        let spec = AlexNetConfig::small(Shape::new(3, 48, 48), 10).with_width(0.25).build().unwrap();
        let model = FloatModel::random(&spec, 7);
        let images = shared::synthetic::images(&spec, 2 * BATCH + 3, 11);
        for method in [RangeMethod::MinMax, RangeMethod::Percentile(99.9)] {
            let fast = collect(&model, &images, method);
            let reference = Calibration::collect(&model, images.iter().map(Vec::as_slice), method);
            assert_eq!(fast.input, reference.input, "the input is the same arithmetic");
            for (i, (a, b)) in fast.layers.iter().zip(&reference.layers).enumerate() {
                let scale = b.0.abs().max(b.1.abs()).max(1e-6);
                let close = (a.0 - b.0).abs() <= 1e-4 * scale && (a.1 - b.1).abs() <= 1e-4 * scale;
                assert!(close, "layer {i} ({method:?}): fast {a:?}, reference {b:?}");
            }
        }
    }
}
