//! Evaluation of the float network on the device over a dataset: mean
//! cross-entropy and top-1/top-5 error, the images decoded off-thread as in
//! training. The trainer validates with it after each epoch.

use super::device::TrainDevice;
use super::model::AlexNet;
use super::preprocess::{eval_pixels, normalize_batch, InputGeometry};
use crate::data::{loader::Loader, Dataset, Image};
use crate::error::{HostError, Result};
use crate::progress::Progress;
use dfdx::prelude::*;
use shared::layers::softmax::top_k;
use shared::spec::ModelSpec;
use std::sync::Arc;

/// Top-1/top-5 error and mean cross-entropy over a set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EvalResult {
    pub images: usize,
    pub loss: f64,
    pub top1_err: f64,
    pub top5_err: f64,
    /// Images that could not be decoded.
    pub skipped: usize,
}

fn to_tensor<D: TrainDevice>(
    dev: &D,
    spec: &ModelSpec,
    images: &[Image],
) -> Tensor<(usize, usize, usize, usize), f32, D> {
    let input = spec.input;
    let data = normalize_batch(spec, images.iter().map(|img| img.pixels.as_slice()));
    dev.tensor_from_vec(data, (images.len(), input.c as usize, input.h as usize, input.w as usize))
}

fn targets<D: TrainDevice>(dev: &D, labels: &[u32], classes: usize, smoothing: f32) -> Tensor<(usize, usize), f32, D> {
    let off = smoothing / classes as f32;
    let mut t = vec![off; labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        t[i * classes + l as usize] += 1.0 - smoothing;
    }
    dev.tensor_from_vec(t, (labels.len(), classes))
}

pub(super) fn check_labels(set: &dyn Dataset, classes: usize) -> Result<()> {
    if set.classes().len() != classes {
        return Err(HostError::Usage(format!(
            "{} has {} classes but the network has {classes} outputs; pass --classes {} (or train a new run)",
            set.describe(),
            set.classes().len(),
            set.classes().len()
        )));
    }
    Ok(())
}

/// Runs the network over `set` (the first `limit` images) in evaluation mode.
pub fn evaluate<D: TrainDevice>(
    net: &AlexNet<D>,
    set: Arc<dyn Dataset>,
    limit: Option<usize>,
    batch: usize,
    workers: usize,
    label: &str,
) -> Result<EvalResult> {
    let classes = net.spec.classes() as usize;
    check_labels(set.as_ref(), classes)?;
    let n = limit.unwrap_or(usize::MAX).min(set.len());
    let input = net.spec.input;
    let fixed = set.image_shape().is_some();
    let geom = InputGeometry::of(&net.spec);
    let transform = Arc::new(move |img: Image, _| Image { shape: input, pixels: eval_pixels(&img, geom, fixed) });
    let loader = Loader::new(set.clone(), (0..n).collect(), batch, workers, 4, transform);
    // Cannot fail: a validated spec ends with a dense layer, which has weights.
    let dev = net.params.iter().flatten().next().map(|p| p.weight.device().clone()).expect("a network has weights");
    let mut result = EvalResult::default();
    let (mut loss_sum, mut top1, mut top5_hits) = (0.0, 0usize, 0usize);
    let mut progress = Progress::new(label, n as u64);
    for b in loader {
        result.skipped += b.skipped.len();
        if b.images.is_empty() {
            continue;
        }
        let x = to_tensor(&dev, &net.spec, &b.images);
        let logits = net.forward(x, None);
        let loss = cross_entropy_with_logits_loss(logits.clone(), targets(&dev, &b.labels, classes, 0.0));
        loss_sum += loss.as_vec()[0] as f64 * b.images.len() as f64;
        let values = logits.as_vec();
        for (row, &label) in values.chunks_exact(classes).zip(&b.labels) {
            let best = top_k::<f32, 5>(row);
            top1 += (best[0] == label as usize) as usize;
            top5_hits += best.contains(&(label as usize)) as usize;
        }
        result.images += b.images.len();
        progress.inc(
            (b.images.len() + b.skipped.len()) as u64,
            &format!("top-1 {:.2}%", 100.0 * top1 as f64 / result.images as f64),
        );
    }
    progress.finish();
    let seen = result.images.max(1) as f64;
    result.loss = loss_sum / seen;
    result.top1_err = 1.0 - top1 as f64 / seen;
    result.top5_err = 1.0 - top5_hits as f64 / seen;
    Ok(result)
}
