//! The float network on the CPU: dfdx with this project's kernels, the
//! engine training validates with, on all cores inside each layer.

use crate::progress::Progress;
use crate::train::model::AlexNet;
use crate::train::preprocess::normalize_batch;
use dfdx::prelude::*;
use shared::float::FloatModel;
use shared::spec::ModelSpec;

/// Images per forward pass when many are run: large enough that the
/// convolutions' products are wide, small enough to keep memory modest.
const BATCH: usize = 128;

/// A float model's network, ready to run.
pub struct FloatNet {
    pub dev: Cpu,
    pub net: AlexNet<Cpu>,
}

impl FloatNet {
    pub fn new(model: &FloatModel) -> FloatNet {
        let dev = Cpu::default();
        let net = AlexNet::from_float(model, &dev);
        FloatNet { dev, net }
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.net.spec
    }

    /// Network-size images, normalized, as one N x C x H x W tensor.
    pub fn input<'a>(
        &self,
        images: impl ExactSizeIterator<Item = &'a [u8]>,
    ) -> Tensor<(usize, usize, usize, usize), f32, Cpu> {
        self.tensor(normalize_batch(self.spec(), images))
    }

    /// Normalized images, back to back, as one N x C x H x W tensor.
    pub fn tensor(&self, normalized: Vec<f32>) -> Tensor<(usize, usize, usize, usize), f32, Cpu> {
        let input = self.spec().input;
        let n = normalized.len() / input.len();
        self.dev.tensor_from_vec(normalized, (n, input.c as usize, input.h as usize, input.w as usize))
    }

    /// Logits of network-size images in one forward pass, image after image.
    pub fn logits<'a>(&self, images: impl ExactSizeIterator<Item = &'a [u8]>) -> Vec<f32> {
        self.net.forward(self.input(images), None).as_vec()
    }
}

/// Logits of every network-size image, a batch at a time, with progress.
pub fn logits_of(model: &FloatModel, images: &[Vec<u8>], label: &str) -> Vec<Vec<f32>> {
    let net = FloatNet::new(model);
    let classes = model.spec.classes() as usize;
    let mut out = Vec::with_capacity(images.len());
    let mut progress = Progress::new(label, images.len() as u64);
    for batch in images.chunks(BATCH) {
        out.extend(net.logits(batch.iter().map(Vec::as_slice)).chunks_exact(classes).map(<[f32]>::to_vec));
        progress.inc(batch.len() as u64, "");
    }
    progress.finish();
    out
}
