//! Training checkpoints as safetensors (PyTorch loads them with
//! `safetensors.torch.load_file`): weights under PyTorch-style names
//! (`conv1.weight` OIHW, `fc6.weight` [out, in], `*.bias`), the optimizer's
//! momentum under `optimizer.<name>.momentum`, and the spec, recipe and
//! progress as JSON in the header metadata. Written atomically, so a crash
//! leaves the previous checkpoint intact.

use super::preprocess::Augment;
use super::recipe::Hyper;
use super::safetensors_stream::{write_safetensors, ReadError, SafetensorsReader, TensorEntry};
use crate::error::{write_atomic_with, HostError, Result};
use serde::{Deserialize, Serialize};
use shared::float::{FloatModel, LayerParams};
use shared::spec::{Layer, LayerInfo, ModelSpec};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Cursor, Read, Seek};
use std::path::Path;

/// Identifies the file kind and the layout version of this module.
pub const FORMAT: &str = "alexnet-edge-checkpoint/1";

/// Where training stands, enough to continue exactly.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Epochs fully done.
    pub epoch: u32,
    /// Batches done within `epoch` (a mid-epoch checkpoint).
    pub batch_in_epoch: u64,
    /// Optimizer steps done in total.
    pub step: u64,
    /// Times the plateau schedule divided the learning rate.
    pub plateau_drops: u32,
    pub best_val_top1_err: Option<f64>,
    pub epochs_since_best: u32,
    /// Wall seconds spent training so far (over all resumed sessions).
    pub seconds: f64,
}

/// What a run trains on besides its hyperparameters, kept so `--resume`
/// continues on the same images with the same augmentation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    pub train_limit: Option<usize>,
    pub val_limit: Option<usize>,
    pub augment: Augment,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub model: FloatModel,
    /// Momentum per spec layer (empty for layers without parameters).
    pub momentum: Vec<LayerParams>,
    pub hyper: Hyper,
    pub progress: Progress,
    pub classes: Vec<String>,
    /// The run's data settings (absent in checkpoints of older builds).
    pub data: Option<RunData>,
}

/// The shape of a layer's weight tensor: OIHW, or `[out, in]`; `None`
/// for layers without weights.
pub fn weight_shape(info: &LayerInfo) -> Option<Vec<usize>> {
    match info.layer {
        Layer::Conv(c) => Some(vec![
            c.out_channels as usize,
            (info.input.c / c.groups) as usize,
            c.kernel as usize,
            c.kernel as usize,
        ]),
        Layer::Dense(d) => Some(vec![d.out_features as usize, info.input.len()]),
        _ => None,
    }
}

fn corrupt(path: &Path, why: impl std::fmt::Display) -> HostError {
    HostError::Checkpoint { path: path.to_path_buf(), reason: why.to_string() }
}

/// Which tensor of a parameter layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Weight,
    Bias,
    WeightMomentum,
    BiasMomentum,
}

/// Where a checkpoint's numbers come from while it is written: a
/// [`Checkpoint`] in memory, or the training state on its device, fetched one
/// tensor at a time (see [`safetensors_stream`](super::safetensors_stream)).
pub trait ParamSource {
    /// Whether spec layer `layer` (a layer with parameters) has momentum.
    fn has_momentum(&self, layer: usize) -> bool;
    /// The values of one tensor of spec layer `layer`.
    fn values(&self, layer: usize, part: Part) -> Cow<'_, [f32]>;
}

/// Everything in a checkpoint file but the numbers.
pub struct CheckpointHeader<'a> {
    pub spec: &'a ModelSpec,
    pub hyper: Hyper,
    pub progress: &'a Progress,
    pub classes: &'a [String],
    pub data: Option<RunData>,
}

/// Writes a checkpoint atomically, tensor by tensor from `source`.
pub fn save_checkpoint(path: &Path, header: &CheckpointHeader, source: &dyn ParamSource) -> Result<()> {
    let mut entries = Vec::new();
    let mut parts = Vec::new();
    for (layer, info) in header.spec.walk().enumerate() {
        let Some(shape) = weight_shape(&info) else { continue };
        let name = info.name.to_string();
        let bias = vec![shape[0]];
        let mut add = |name: String, shape: Vec<usize>, part| {
            entries.push(TensorEntry { name, shape });
            parts.push((layer, part));
        };
        add(format!("{name}.weight"), shape.clone(), Part::Weight);
        add(format!("{name}.bias"), bias.clone(), Part::Bias);
        if source.has_momentum(layer) {
            add(format!("optimizer.{name}.weight.momentum"), shape, Part::WeightMomentum);
            add(format!("optimizer.{name}.bias.momentum"), bias, Part::BiasMomentum);
        }
    }
    let mut metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("spec".to_string(), json(header.spec)),
        ("hyper".to_string(), json(&header.hyper)),
        ("progress".to_string(), json(header.progress)),
        ("classes".to_string(), json(&header.classes)),
    ]);
    if let Some(data) = &header.data {
        metadata.insert("data".to_string(), json(data));
    }
    write_atomic_with(path, |out| {
        write_safetensors(out, &entries, &metadata, |i| {
            let (layer, part) = parts[i];
            source.values(layer, part)
        })
    })
}

impl ParamSource for Checkpoint {
    fn has_momentum(&self, layer: usize) -> bool {
        !self.momentum[layer].weights.is_empty()
    }

    fn values(&self, layer: usize, part: Part) -> Cow<'_, [f32]> {
        let (p, m) = (&self.model.layers[layer], &self.momentum[layer]);
        Cow::Borrowed(match part {
            Part::Weight => &p.weights,
            Part::Bias => &p.bias,
            Part::WeightMomentum => &m.weights,
            Part::BiasMomentum => &m.bias,
        })
    }
}

impl Checkpoint {
    pub fn save(&self, path: &Path) -> Result<()> {
        let header = CheckpointHeader {
            spec: &self.model.spec,
            hyper: self.hyper,
            progress: &self.progress,
            classes: &self.classes,
            data: self.data,
        };
        save_checkpoint(path, &header, self)
    }

    /// Reads the file one tensor at a time: the paper network's checkpoint
    /// is 488 MB, and reading it whole held those bytes beside the values.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let file = File::open(path).map_err(|source| HostError::File { path: path.to_path_buf(), source })?;
        Checkpoint::read(path, file)
    }

    /// A checkpoint from the contents of a file; `path` names it in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Checkpoint> {
        Checkpoint::read(path, Cursor::new(bytes))
    }

    fn read(path: &Path, source: impl Read + Seek) -> Result<Checkpoint> {
        let error = |e: ReadError| match e {
            ReadError::Io(source) => HostError::File { path: path.to_path_buf(), source },
            other => corrupt(path, other),
        };
        let mut st = SafetensorsReader::new(source).map_err(error)?;
        let meta = st.metadata();
        let field = |key: &str| meta.get(key).ok_or_else(|| corrupt(path, format!("no '{key}' in the metadata")));
        let format = field("format")?;
        if format != FORMAT {
            return Err(corrupt(path, format!("format '{format}', this host reads '{FORMAT}'")));
        }
        let parse_err = |key: &str, e: serde_json::Error| corrupt(path, format!("metadata '{key}': {e}"));
        let spec: ModelSpec = serde_json::from_str(field("spec")?).map_err(|e| parse_err("spec", e))?;
        spec.validate().map_err(|e| corrupt(path, format!("invalid spec: {e}")))?;
        let hyper: Hyper = serde_json::from_str(field("hyper")?).map_err(|e| parse_err("hyper", e))?;
        let progress: Progress = serde_json::from_str(field("progress")?).map_err(|e| parse_err("progress", e))?;
        let classes: Vec<String> = serde_json::from_str(field("classes")?).map_err(|e| parse_err("classes", e))?;
        let data: Option<RunData> =
            meta.get("data").map(|d| serde_json::from_str(d)).transpose().map_err(|e| parse_err("data", e))?;

        let (mut layers, mut momentum) = (Vec::new(), Vec::new());
        for info in spec.walk() {
            let Some(shape) = weight_shape(&info) else {
                layers.push(LayerParams::default());
                momentum.push(LayerParams::default());
                continue;
            };
            let name = info.name.to_string();
            let bias = [shape[0]];
            layers.push(LayerParams {
                weights: st.read_f32(&format!("{name}.weight"), &shape).map_err(error)?,
                bias: st.read_f32(&format!("{name}.bias"), &bias).map_err(error)?,
            });
            let weight_momentum = format!("optimizer.{name}.weight.momentum");
            momentum.push(if st.contains(&weight_momentum) {
                LayerParams {
                    weights: st.read_f32(&weight_momentum, &shape).map_err(error)?,
                    bias: st.read_f32(&format!("optimizer.{name}.bias.momentum"), &bias).map_err(error)?,
                }
            } else {
                LayerParams::default()
            });
        }
        if classes.len() != spec.classes() as usize {
            return Err(corrupt(path, format!("{} class names for {} outputs", classes.len(), spec.classes())));
        }
        Ok(Checkpoint { model: FloatModel { spec, layers }, momentum, hyper, progress, classes, data })
    }
}

/// Metadata values are JSON; these plain structs always serialize.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::recipe::RecipeKind;
    use shared::spec::{AlexNetConfig, Shape};

    fn sample() -> Checkpoint {
        let spec = AlexNetConfig::small(Shape::new(1, 32, 32), 4).with_width(0.125).build().unwrap();
        let model = FloatModel::random(&spec, 5);
        let momentum = FloatModel::random(&spec, 6).layers;
        let progress =
            Progress { epoch: 3, batch_in_epoch: 7, step: 1234, best_val_top1_err: Some(0.125), ..Default::default() };
        let classes = ["a", "b", "c", "d"].map(String::from).to_vec();
        let data = Some(RunData { train_limit: Some(320), val_limit: None, augment: Augment::NONE });
        Checkpoint { model, momentum, hyper: Hyper::defaults(RecipeKind::Fast), progress, classes, data }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("alexnet-ckpt-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("c.safetensors")
    }

    #[test]
    fn round_trips_exactly() {
        let path = scratch("roundtrip");
        let c = sample();
        c.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), c);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn truncated_or_foreign_files_are_clear_errors() {
        let path = scratch("bad");
        sample().save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains("not a safetensors file"), "{err}");
        std::fs::write(&path, b"hello").unwrap();
        assert!(Checkpoint::load(&path).is_err());
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    /// An input that crashed the fuzz target `checkpoint` (written by hand
    /// after reading `ModelSpec::validate`): a spec with input 4 x (2^32-1) x
    /// (2^32-1) before a dense layer overflowed counting the input's values.
    /// The file is also one of the target's seeds.
    #[test]
    fn spec_too_large_to_count_is_an_error() {
        let bytes = include_bytes!("../../fuzz/seeds/checkpoint/regression-huge-input.safetensors");
        let err = Checkpoint::from_bytes(Path::new("huge.safetensors"), bytes).unwrap_err().to_string();
        assert!(err.contains("huge.safetensors") && err.contains("invalid spec: input shape"), "{err}");
    }
}
