//! The one interface every command runs a host engine through: images in
//! (network input size), each image's top-5 (and logits where the engine
//! is float) out, in image order. Batch size and threads are the engine's
//! own choice.

use super::{float, int8};
use crate::error::Result;
use shared::float::FloatModel;
use shared::layers::softmax::top_k;
use shared::spec::ModelSpec;
use shared::Model;
use std::path::Path;

/// A host engine and the network it runs.
pub enum HostEngine<'a> {
    /// The float network in dfdx.
    Float(&'a FloatModel),
    /// The int8 model on shared's kernels, as on the board.
    Int8(&'a Model<'a>),
    /// tract on an ONNX graph of the network `spec`.
    Tract { onnx: &'a Path, spec: &'a ModelSpec },
}

/// What one engine said about every image.
pub struct EngineRun {
    pub name: &'static str,
    pub top5: Vec<Vec<usize>>,
    /// Float logits (float engines only).
    pub logits: Option<Vec<Vec<f32>>>,
}

pub const NO_TRACT: &str =
    "this host was built without tract: build it with its default features (cargo build --release -p host)";

/// Indices of the five largest logits, best first.
pub fn top5(logits: &[f32]) -> Vec<usize> {
    top_k::<f32, 5>(logits).to_vec()
}

impl HostEngine<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            HostEngine::Float(_) => "float",
            HostEngine::Int8(_) => "int8",
            HostEngine::Tract { .. } => "tract",
        }
    }

    /// Runs every image, with a progress bar named after the engine.
    pub fn run(&self, images: &[Vec<u8>]) -> Result<EngineRun> {
        let name = self.name();
        let with_logits = |logits: Vec<Vec<f32>>| EngineRun {
            name,
            top5: logits.iter().map(|l| top5(l)).collect(),
            logits: Some(logits),
        };
        match self {
            HostEngine::Float(model) => Ok(with_logits(float::logits_of(model, images, name))),
            HostEngine::Int8(model) => {
                Ok(EngineRun { name, top5: int8::int8_top5(model, images, name)?, logits: None })
            }
            HostEngine::Tract { onnx, spec } => tract_logits(onnx, spec, images, name).map(with_logits),
        }
    }
}

#[cfg(feature = "tract")]
fn tract_logits(onnx: &Path, spec: &ModelSpec, images: &[Vec<u8>], label: &str) -> Result<Vec<Vec<f32>>> {
    super::tract::logits_of(onnx, spec, images, label)
}

#[cfg(not(feature = "tract"))]
fn tract_logits(_: &Path, _: &ModelSpec, _: &[Vec<u8>], _: &str) -> Result<Vec<Vec<f32>>> {
    Err(crate::error::HostError::Usage(NO_TRACT.into()))
}
