//! The metadata block of a model file: spec, quantization of every layer, and
//! the table of tensors stored after it.

use crate::layers::lrn::LrnTableParams;
use crate::quant::{QParams, Requant};
use crate::spec::{ModelSpec, MAX_INPUT_CHANNELS, MAX_LAYERS};
use heapless::Vec;
use serde::{Deserialize, Serialize};

/// Enough for 6 tensors per weighted layer plus LRN tables.
pub const MAX_TENSORS: usize = 128;

/// Index into [`ModelMeta::tensors`].
pub type TensorId = u16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DType {
    I8,
    I32,
    F32,
    /// UTF-8 text (the class names).
    Utf8,
}

impl DType {
    pub const fn size(self) -> usize {
        match self {
            DType::I8 | DType::Utf8 => 1,
            DType::I32 | DType::F32 => 4,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorEntry {
    pub dtype: DType,
    /// Byte offset from the start of the tensor data; a multiple of 16.
    pub offset: u64,
    /// Number of elements.
    pub len: u32,
}

/// How raw pixels become the first layer's int8 input, integer-only:
/// `q = clamp(output.zero_point + requantize(pixel - mean[c], requant[c]))`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputQuant {
    pub output: QParams,
    pub mean: [i32; MAX_INPUT_CHANNELS],
    pub requant: [Requant; MAX_INPUT_CHANNELS],
}

/// Quantization of a convolution or dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightedQuant {
    pub input: QParams,
    pub output: QParams,
    /// int8 weights in `-127..=127`, packed in the kernels' panel order
    /// (`layers::packed`; padding is zero).
    pub weights: TensorId,
    /// int32 per-output-channel sums of the weights.
    pub weight_sums: TensorId,
    /// f32 per-output-channel weight scales (for reports and dequantization).
    pub weight_scales: TensorId,
    /// int32 biases.
    pub bias: TensorId,
    /// int32 per-channel fixed-point multipliers and shifts ([`Requant`]).
    pub multiplier: TensorId,
    pub shift: TensorId,
}

/// Quantization of an LRN layer: its gain table (see `layers::lrn`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrnQuant {
    pub input: QParams,
    pub output: QParams,
    pub table: TensorId,
    pub params: LrnTableParams,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum LayerQuant {
    Conv(WeightedQuant),
    Dense(WeightedQuant),
    Lrn(LrnQuant),
    /// Max pooling keeps its input's quantization.
    MaxPool(QParams),
    /// So does average pooling.
    AvgPool(QParams),
}

impl LayerQuant {
    pub fn input(&self) -> QParams {
        match self {
            LayerQuant::Conv(w) | LayerQuant::Dense(w) => w.input,
            LayerQuant::Lrn(l) => l.input,
            LayerQuant::MaxPool(q) | LayerQuant::AvgPool(q) => *q,
        }
    }

    pub fn output(&self) -> QParams {
        match self {
            LayerQuant::Conv(w) | LayerQuant::Dense(w) => w.output,
            LayerQuant::Lrn(l) => l.output,
            LayerQuant::MaxPool(q) | LayerQuant::AvgPool(q) => *q,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub spec: ModelSpec,
    pub input: InputQuant,
    pub layers: Vec<LayerQuant, MAX_LAYERS>,
    pub tensors: Vec<TensorEntry, MAX_TENSORS>,
    /// The class names, one per line in class order, so a model file names
    /// its own answers (absent in files of synthetic models).
    pub labels: Option<TensorId>,
}
