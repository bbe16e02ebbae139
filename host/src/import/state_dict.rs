//! A PyTorch state_dict saved as safetensors (`safetensors.torch.save_file`)
//! as the weights of a spec chosen with `--arch`. Two naming schemes are
//! read: this project's (`conv1.weight` .. `fc8.bias`, what `host train` and
//! `scripts/train_ddp.py --arch paper` write) and torchvision's `alexnet`
//! (`features.0.weight` .. `classifier.6.bias`). A `module.` prefix, as
//! DistributedDataParallel adds, is taken off. `--arch` gives the pattern
//! and input size; the widths and the class count are read from the weights.
//! Every tensor of the file must be used and have the network's shape.

use super::error::ImportError;
use crate::train::checkpoint::weight_shape;
use safetensors::tensor::{Dtype, SafeTensors};
use shared::float::{FloatModel, LayerParams};
use shared::spec::{AlexNetConfig, Normalize, Shape};
use std::collections::BTreeSet;

/// torchvision's module indices of the five convolutions and three linear
/// layers of `alexnet`, in order.
const TORCHVISION: [&str; 8] = [
    "features.0",
    "features.3",
    "features.6",
    "features.8",
    "features.10",
    "classifier.1",
    "classifier.4",
    "classifier.6",
];

/// What `scripts/train_ddp.py` records in the file's metadata about the
/// network and its preprocessing (each field absent in other files).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recorded {
    pub arch: Option<String>,
    pub input: Option<Shape>,
    /// The header's mean and std, and how many channels its lists cover.
    pub normalize: Option<(Normalize, usize)>,
    pub resize: Option<u32>,
}

/// Reads [`Recorded`] from a safetensors header; unreadable values count as absent.
pub fn recorded(bytes: &[u8]) -> Recorded {
    let Ok((_, meta)) = SafeTensors::read_metadata(bytes) else { return Recorded::default() };
    let meta = meta.metadata().clone().unwrap_or_default();
    let list = |key: &str| serde_json::from_str::<Vec<f32>>(meta.get(key)?).ok();
    let input = meta.get("input").and_then(|v| serde_json::from_str::<[u32; 3]>(v).ok());
    let input = input.map(|[c, h, w]| Shape::new(c, h, w));
    let mean = list("mean").unwrap_or_default();
    let normalize = Normalize::from_channels(&mean, &list("std").unwrap_or_default()).map(|n| (n, mean.len()));
    Recorded {
        arch: meta.get("arch").cloned(),
        input,
        normalize,
        resize: meta.get("resize_short_side").and_then(|v| v.parse().ok()),
    }
}

/// Project names of the eight weighted layers of the AlexNet pattern.
const PROJECT: [&str; 8] = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"];

/// The network of `pattern` (its kernels, strides, groups, LRN and input
/// size) with the widths and class count of the state_dict in `bytes`, its
/// weights, and notes for the user.
pub fn import_state_dict(bytes: &[u8], pattern: AlexNetConfig) -> Result<(FloatModel, Vec<String>), ImportError> {
    let st =
        SafeTensors::deserialize(bytes).map_err(|e| ImportError::Graph(format!("not a safetensors file ({e})")))?;
    let names: BTreeSet<String> = st.names().into_iter().map(String::from).collect();
    let mut notes = Vec::new();
    let prefix = if !names.is_empty() && names.iter().all(|n| n.starts_with("module.")) {
        notes.push("names start with 'module.' (DistributedDataParallel); read without it".to_string());
        "module."
    } else {
        ""
    };
    let torchvision =
        !names.contains(&format!("{prefix}conv1.weight")) && names.contains(&format!("{prefix}features.0.weight"));
    let scheme = if torchvision { TORCHVISION } else { PROJECT };
    if torchvision {
        notes.push("torchvision's names (features.N, classifier.N)".to_string());
    }
    let missing = |name: String| ImportError::Tensor {
        name,
        reason: "missing (the state_dict is not of this --arch, or uses other names)".into(),
    };
    // Widths and classes from the weights' leading dimensions.
    let mut widths = [0u32; 8];
    for (w, base) in widths.iter_mut().zip(scheme) {
        let name = format!("{prefix}{base}.weight");
        let t = st.tensor(&name).map_err(|_| missing(name))?;
        *w = t.shape().first().copied().unwrap_or(0) as u32;
    }
    let mut cfg = pattern;
    cfg.conv_channels.copy_from_slice(&widths[..5]);
    cfg.fc_features.copy_from_slice(&widths[5..7]);
    cfg.classes = widths[7];
    // conv1 is not grouped: its weights take every input channel.
    if let Some(&c) =
        st.tensor(&format!("{prefix}{}.weight", scheme[0])).ok().and_then(|t| t.shape().get(1).copied()).as_ref()
    {
        cfg.input.c = c as u32;
    }
    let spec = cfg.build()?;
    notes.push(format!(
        "widths from the file: conv {:?}, fc {:?}, {} classes",
        cfg.conv_channels, cfg.fc_features, cfg.classes
    ));

    let mut used = BTreeSet::new();
    let mut read = |name: String, shape: &[usize]| -> Result<Vec<f32>, ImportError> {
        let t = st.tensor(&name).map_err(|_| missing(name.clone()))?;
        let fail = |reason: String| ImportError::Tensor { name: name.clone(), reason };
        if t.dtype() != Dtype::F32 {
            return Err(fail(format!("{:?} values; save float32 weights (`.float()`)", t.dtype())));
        }
        if t.shape() != shape {
            return Err(fail(format!("shape {:?}, but this network needs {shape:?}", t.shape())));
        }
        used.insert(name.clone());
        Ok(t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    };
    let mut layers = Vec::new();
    let mut weighted = scheme.iter();
    for info in spec.walk() {
        let Some(shape) = weight_shape(&info) else {
            layers.push(LayerParams::default());
            continue;
        };
        let base = weighted.next().expect("the pattern has eight weighted layers");
        let weights = read(format!("{prefix}{base}.weight"), &shape)?;
        let bias = read(format!("{prefix}{base}.bias"), &shape[..1])?;
        layers.push(LayerParams { weights, bias });
    }
    let unused: Vec<&String> = names.iter().filter(|n| !used.contains(*n)).collect();
    if !unused.is_empty() {
        let list: Vec<&str> = unused.iter().take(5).map(|s| s.as_str()).collect();
        return Err(ImportError::Graph(format!(
            "{} tensors are not part of this --arch ({}{}): the network differs",
            unused.len(),
            list.join(", "),
            if unused.len() > 5 { ", ..." } else { "" }
        )));
    }
    Ok((FloatModel { spec, layers }, notes))
}
