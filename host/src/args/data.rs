//! Command-line choice of dataset, shared by every command that reads
//! images, and of how much of its test set to use.

use crate::board::session::TestImage;
use crate::data::{self, Dataset, DatasetKind, Split};
use crate::error::Result;
use crate::train::preprocess::{eval_pixels, InputGeometry};
use clap::Args;
use shared::spec::ModelSpec;
use std::path::PathBuf;
use std::sync::Arc;

fn parse_kind(s: &str) -> std::result::Result<DatasetKind, String> {
    s.parse().map_err(|e| format!("{e}"))
}

/// Test images ready for a network, and their labels.
pub struct NetworkInputs {
    pub images: Vec<Vec<u8>>,
    pub labels: Vec<u32>,
    pub skipped: usize,
}

#[derive(Clone, Debug, Args)]
pub struct DataArgs {
    /// Dataset format: fashion-mnist (IDX), cifar10 (binary batches), or
    /// folder (ImageFolder layout: DIR/train/<class>/*.jpg, DIR/val/<class>/...).
    #[arg(long, value_parser = parse_kind, default_value = "fashion-mnist")]
    pub dataset: DatasetKind,
    /// Dataset directory (fashion-mnist default: /usr/share/datasets/fashion-mnist,
    /// from the Debian package dataset-fashion-mnist).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

impl DataArgs {
    pub fn open(&self, split: Split, channels: u32) -> Result<Arc<dyn Dataset>> {
        Ok(Arc::from(data::open(&self.dataset, self.data.as_deref(), split, channels)?))
    }

    /// The first `limit` test images at network size, preprocessed as in
    /// evaluation, with their labels. Undecodable files are skipped and counted.
    pub fn network_inputs(&self, spec: &ModelSpec, limit: Option<usize>) -> Result<NetworkInputs> {
        Ok(network_inputs_of(self.open(Split::Test, spec.input.c)?.as_ref(), spec, limit))
    }

    /// The first `limit` test images as a board receives them: native size
    /// for fixed-size datasets (the board resizes, as the host does), the
    /// evaluation crop for folders of photos. Undecodable files are skipped
    /// and counted.
    pub fn test_images(&self, spec: &ModelSpec, limit: Option<usize>) -> Result<(Vec<TestImage>, usize)> {
        let set = self.open(Split::Test, spec.input.c)?;
        let n = limit.unwrap_or(usize::MAX).min(set.len());
        let fixed = set.image_shape().is_some();
        let (mut images, mut skipped) = (Vec::with_capacity(n), 0);
        for i in 0..n {
            match set.image(i) {
                Ok(img) if fixed => {
                    images.push(TestImage { pixels: img.pixels, shape: img.shape, label: set.label(i) })
                }
                Ok(img) => images.push(TestImage {
                    pixels: eval_pixels(&img, InputGeometry::of(spec), false),
                    shape: spec.input,
                    label: set.label(i),
                }),
                Err(e) => {
                    skipped += 1;
                    if !crate::progress::quiet() {
                        eprintln!("skipping: {e}");
                    }
                }
            }
        }
        Ok((images, skipped))
    }
}

/// A dataset and how many of its test images to use: `eval`, `quantize`'s
/// check and `run`.
#[derive(Clone, Debug, Args)]
pub struct TestSetArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Use the first N test images only (default: all).
    #[arg(long, value_parser = super::values::count(1..))]
    pub limit: Option<usize>,
}

impl TestSetArgs {
    /// See [`DataArgs::network_inputs`].
    pub fn network_inputs(&self, spec: &ModelSpec) -> Result<NetworkInputs> {
        self.data.network_inputs(spec, self.limit)
    }

    /// See [`DataArgs::test_images`].
    pub fn test_images(&self, spec: &ModelSpec) -> Result<(Vec<TestImage>, usize)> {
        self.data.test_images(spec, self.limit)
    }

    /// The test images as they travel to a board, over the link or on its
    /// card: [`test_images`](Self::test_images), those larger than the
    /// network's input cut down to it (`board::records::shrink_to_input`).
    pub fn board_images(&self, spec: &ModelSpec) -> Result<(Vec<TestImage>, usize)> {
        let (mut images, skipped) = self.test_images(spec)?;
        crate::board::records::shrink_to_input(&mut images, spec.input);
        Ok((images, skipped))
    }
}

/// [`DataArgs::network_inputs`] of a set already open (so a caller can
/// check it, e.g. its classes, before the decoding).
pub fn network_inputs_of(set: &dyn Dataset, spec: &ModelSpec, limit: Option<usize>) -> NetworkInputs {
    let n = limit.unwrap_or(usize::MAX).min(set.len());
    let fixed = set.image_shape().is_some();
    let mut out = NetworkInputs { images: Vec::with_capacity(n), labels: Vec::with_capacity(n), skipped: 0 };
    for i in 0..n {
        match set.image(i) {
            Ok(img) => {
                out.images.push(eval_pixels(&img, InputGeometry::of(spec), fixed));
                out.labels.push(set.label(i));
            }
            Err(e) => {
                out.skipped += 1;
                if !crate::progress::quiet() {
                    eprintln!("skipping: {e}");
                }
            }
        }
    }
    out
}
