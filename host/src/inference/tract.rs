//! The exported graph run by tract (the `tract` feature): the independent
//! float engine `host eval --engine tract` and the tests compare against.

use crate::error::{HostError, Result};
use crate::progress::Progress;
use crate::train::preprocess::normalize_batch;
use shared::spec::ModelSpec;
use std::path::Path;

/// Images per run when many are run.
const BATCH: usize = 64;

/// Logits of every network-size image, a batch at a time, with progress.
pub fn logits_of(onnx: &Path, spec: &ModelSpec, images: &[Vec<u8>], label: &str) -> Result<Vec<Vec<f32>>> {
    let runner = TractRunner::load(onnx, spec, BATCH)?;
    let classes = spec.classes() as usize;
    let mut logits = Vec::with_capacity(images.len());
    let mut progress = Progress::new(label, images.len() as u64);
    for chunk in images.chunks(BATCH) {
        let out = runner.logits(&normalize_batch(spec, chunk.iter().map(Vec::as_slice)))?;
        logits.extend(out.chunks_exact(classes).map(<[f32]>::to_vec));
        progress.inc(chunk.len() as u64, "");
    }
    progress.finish();
    Ok(logits)
}

/// The exported graph loaded in tract with a fixed batch size.
pub struct TractRunner {
    plan: std::sync::Arc<tract_onnx::prelude::TypedRunnableModel>,
    batch: usize,
    image: (usize, usize, usize),
    classes: usize,
}

impl TractRunner {
    pub fn load(path: &Path, spec: &ModelSpec, batch: usize) -> Result<TractRunner> {
        use tract_onnx::prelude::*;
        let err = |e: TractError| HostError::Usage(format!("{}: tract: {e:#}", path.display()));
        let image = (spec.input.c as usize, spec.input.h as usize, spec.input.w as usize);
        let plan = tract_onnx::onnx()
            .model_for_path(path)
            .and_then(|m| m.with_input_fact(0, f32::fact([batch, image.0, image.1, image.2]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(err)?;
        Ok(TractRunner { plan, batch, image, classes: spec.classes() as usize })
    }

    /// Logits for up to `batch` normalized images (N x C x H x W, flat).
    pub fn logits(&self, data: &[f32]) -> Result<Vec<f32>> {
        use tract_onnx::prelude::*;
        let (c, h, w) = self.image;
        let n = data.len() / (c * h * w);
        if n == 0 || n > self.batch || data.len() != n * c * h * w {
            return Err(HostError::Usage(format!("tract: {} values is not 1..={} images", data.len(), self.batch)));
        }
        let mut padded = data.to_vec();
        padded.resize(self.batch * c * h * w, 0.0);
        let input = tract_ndarray::Array4::from_shape_vec((self.batch, c, h, w), padded)
            .map_err(|e| HostError::Usage(format!("tract input: {e}")))?;
        let out =
            self.plan.run(tvec!(Tensor::from(input).into())).map_err(|e| HostError::Usage(format!("tract: {e:#}")))?;
        let logits = out[0].to_plain_array_view::<f32>().map_err(|e| HostError::Usage(format!("tract: {e:#}")))?;
        Ok(logits.iter().copied().take(n * self.classes).collect())
    }
}
