//! Post-training quantization of a [`FloatModel`] into a model file:
//! activation ranges from calibration images, symmetric per-channel weights,
//! int32 biases, fixed-point multipliers and LRN tables, all computed here
//! once so the device only ever does integer arithmetic. Host-side (`alloc`).

extern crate alloc;

use crate::float::FloatModel;
use crate::format::{FormatError, InputQuant, LayerQuant, LrnQuant, ModelBuilder, WeightedQuant};
use crate::layers::conv::ConvGeometry;
use crate::layers::lrn::{build_lrn_table, lrn_table_len};
use crate::layers::packed::pack_weights;
use crate::quant::{quantize_bias, quantize_weights_per_channel, QParams, Requant};
use crate::spec::{Layer, ModelSpec, MAX_INPUT_CHANNELS};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// Observed value ranges: the normalized input and every layer's output.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub input: (f32, f32),
    pub layers: Vec<(f32, f32)>,
}

/// How calibration turns observed values into a range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RangeMethod {
    /// Smallest and largest value seen.
    MinMax,
    /// Per image, the given percentile of |values| (e.g. 99.99), then the
    /// largest over images: ignores rare outliers that would waste int8 steps.
    Percentile(f32),
}

fn range_of(values: &[f32], method: RangeMethod) -> (f32, f32) {
    let min = values.iter().fold(f32::INFINITY, |m, v| m.min(*v));
    let max = values.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    match method {
        RangeMethod::MinMax => (min, max),
        RangeMethod::Percentile(p) => {
            let mut sorted: Vec<f32> = values.to_vec();
            sorted.sort_by(|a, b| a.total_cmp(b));
            let at = |q: f32| sorted[((q / 100.0) * (sorted.len() - 1) as f32) as usize];
            (at(100.0 - p).min(0.0).max(min), at(p).max(0.0).min(max))
        }
    }
}

impl Calibration {
    /// Runs the float model on `images` and records ranges.
    pub fn collect<'a>(
        model: &FloatModel,
        images: impl IntoIterator<Item = &'a [u8]>,
        method: RangeMethod,
    ) -> Calibration {
        let mut cal = Calibration::empty(model.layers.len());
        for image in images {
            model.forward_trace(image, |i, out| cal.observe((i != usize::MAX).then_some(i), out, method));
        }
        cal
    }

    /// Nothing observed yet, for a network of `layers` layers.
    pub fn empty(layers: usize) -> Calibration {
        let none = (f32::INFINITY, f32::NEG_INFINITY);
        Calibration { input: none, layers: vec![none; layers] }
    }

    /// Takes one image's values of `layer`'s output (`None`: the normalized
    /// input) into the ranges. Ranges are per image, then widened over
    /// images, so the order images are observed in does not matter.
    pub fn observe(&mut self, layer: Option<usize>, values: &[f32], method: RangeMethod) {
        let (lo, hi) = range_of(values, method);
        let slot = match layer {
            None => &mut self.input,
            Some(i) => &mut self.layers[i],
        };
        *slot = (slot.0.min(lo), slot.1.max(hi));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantizeError {
    /// Calibration does not cover every layer (or saw no images).
    Calibration,
    /// A scale ratio is beyond what fixed point represents at this layer.
    Range {
        layer: usize,
    },
    /// Weights given for this layer (see [`FixedWeights`]) do not fit it,
    /// have a scale that is not positive, or hold -128 (the kernels take
    /// -127..=127), or none were given.
    Weights {
        layer: usize,
    },
    Format(FormatError),
}

impl core::error::Error for QuantizeError {}

impl fmt::Display for QuantizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantizeError::Calibration => write!(f, "calibration saw no images or misses layers"),
            QuantizeError::Range { layer } => write!(f, "layer {layer}: scales out of fixed-point range"),
            QuantizeError::Weights { layer } => write!(
                f,
                "layer {layer}: int8 weights, scales or biases that do not fit the layer (weights -127..=127, \
                 scales above 0)"
            ),
            QuantizeError::Format(e) => write!(f, "{e}"),
        }
    }
}

fn input_quant(spec: &ModelSpec, qp: QParams) -> Result<InputQuant, QuantizeError> {
    let mut q = InputQuant { output: qp, mean: [0; MAX_INPUT_CHANNELS], requant: [Requant::ZERO; MAX_INPUT_CHANNELS] };
    for c in 0..spec.input.c as usize {
        let n = &spec.normalize;
        q.mean[c] = libm::roundf(n.mean[c]).clamp(0.0, 255.0) as i32;
        q.requant[c] =
            Requant::from_real(1.0 / (n.std[c] as f64 * qp.scale as f64)).ok_or(QuantizeError::Range { layer: 0 })?;
    }
    Ok(q)
}

/// Quantizes `model` with the ranges in `cal` into model-file bytes.
pub fn quantize(model: &FloatModel, cal: &Calibration) -> Result<Vec<u8>, QuantizeError> {
    quantize_named::<&str>(model, cal, None)
}

/// [`quantize`], storing the class names in the file (one per class, no
/// line breaks).
pub fn quantize_named<S: AsRef<str>>(
    model: &FloatModel,
    cal: &Calibration,
    labels: Option<&[S]>,
) -> Result<Vec<u8>, QuantizeError> {
    let finite = |r: (f32, f32)| r.0.is_finite() && r.1.is_finite();
    if cal.layers.len() != model.layers.len() || !finite(cal.input) || !cal.layers.iter().all(|r| finite(*r)) {
        return Err(QuantizeError::Calibration);
    }
    let outputs: Vec<QParams> = cal.layers.iter().map(|r| QParams::from_range(r.0, r.1)).collect();
    let input = QParams::from_range(cal.input.0, cal.input.1);
    assemble(&model.spec, input, &outputs, labels, |layer| {
        let params = &model.layers[layer];
        let mut values = vec![0i8; params.weights.len()];
        let mut scales = vec![0f32; params.bias.len()];
        quantize_weights_per_channel(&params.weights, &mut values, &mut scales);
        Ok(FixedWeights { values, scales, bias: params.bias.clone() })
    })
}

/// A weighted layer quantized elsewhere: int8 weights in the spec's layout
/// (rows of output channels; -127..=127, zero point 0), each output
/// channel's scale, and the float bias (quantized here at
/// `input_scale * weight_scale`, as TFLite does).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FixedWeights {
    pub values: Vec<i8>,
    pub scales: Vec<f32>,
    pub bias: Vec<f32>,
}

/// One layer's output parameters and, for convolutions and dense layers,
/// its weights.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedLayer {
    pub output: QParams,
    pub weights: Option<FixedWeights>,
}

/// Quantization decided elsewhere (an imported int8 model): the input's and
/// every layer's scale and zero point, and the int8 weights. Pooling layers'
/// outputs must have their inputs' parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedQuant {
    pub input: QParams,
    pub layers: Vec<FixedLayer>,
}

/// Model-file bytes from quantization decided elsewhere: the multipliers,
/// int32 biases, LRN tables and packing are computed as for a calibrated
/// model, from the given scales, zero points and weights.
pub fn quantize_fixed<S: AsRef<str>>(
    spec: &ModelSpec,
    mut fixed: FixedQuant,
    labels: Option<&[S]>,
) -> Result<Vec<u8>, QuantizeError> {
    if fixed.layers.len() != spec.layers.len() {
        return Err(QuantizeError::Calibration);
    }
    let outputs: Vec<QParams> = fixed.layers.iter().map(|l| l.output).collect();
    assemble(spec, fixed.input, &outputs, labels, |layer| {
        fixed.layers[layer].weights.take().ok_or(QuantizeError::Weights { layer })
    })
}

/// The model file of `spec` with these input and output parameters; each
/// weighted layer's weights come from `weighted(layer index)`.
fn assemble<S: AsRef<str>>(
    spec: &ModelSpec,
    input: QParams,
    outputs: &[QParams],
    labels: Option<&[S]>,
    mut weighted: impl FnMut(usize) -> Result<FixedWeights, QuantizeError>,
) -> Result<Vec<u8>, QuantizeError> {
    if !input.is_valid() {
        return Err(QuantizeError::Range { layer: 0 });
    }
    let input = input_quant(spec, input)?;
    let mut builder = ModelBuilder::new();
    let mut layers = heapless::Vec::new();
    let mut current = input.output;
    for (info, &out_qp) in spec.walk().zip(outputs) {
        let layer = info.index;
        if !out_qp.is_valid() {
            return Err(QuantizeError::Range { layer });
        }
        let quant = match info.layer {
            Layer::Conv(_) | Layer::Dense(_) => {
                let channels = info.output.c as usize;
                let FixedWeights { values: weights, scales, bias } = weighted(layer)?;
                let geometry = ConvGeometry::of_weighted(&info).expect("a weighted layer").0;
                let layout = geometry.packed_layout();
                let fits = weights.len() == layout.channels() * layout.depth
                    && scales.len() == channels
                    && bias.len() == channels
                    && scales.iter().all(|s| s.is_finite() && *s > 0.0)
                    && weights.iter().all(|&w| w != i8::MIN);
                if !fits {
                    return Err(QuantizeError::Weights { layer });
                }
                let (packed, sums) = pack_weights(&layout, &weights);
                let bias: Vec<i32> =
                    bias.iter().zip(&scales).map(|(b, s)| quantize_bias(*b, current.scale, *s)).collect();
                let requants = scales
                    .iter()
                    .map(|s| Requant::from_real(current.scale as f64 * *s as f64 / out_qp.scale as f64))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(QuantizeError::Range { layer })?;
                let multiplier: Vec<i32> = requants.iter().map(|r| r.multiplier).collect();
                let shift: Vec<i32> = requants.iter().map(|r| r.shift).collect();
                let w = WeightedQuant {
                    input: current,
                    output: out_qp,
                    weights: builder.add_i8(&packed),
                    weight_sums: builder.add_i32(&sums),
                    weight_scales: builder.add_f32(&scales),
                    bias: builder.add_i32(&bias),
                    multiplier: builder.add_i32(&multiplier),
                    shift: builder.add_i32(&shift),
                };
                if matches!(info.layer, Layer::Conv(_)) {
                    LayerQuant::Conv(w)
                } else {
                    LayerQuant::Dense(w)
                }
            }
            Layer::Lrn(spec) => {
                let mut table = vec![0i32; lrn_table_len(spec.size)];
                let params =
                    build_lrn_table(&spec, current, out_qp, &mut table).ok_or(QuantizeError::Range { layer })?;
                LayerQuant::Lrn(LrnQuant { input: current, output: out_qp, table: builder.add_i32(&table), params })
            }
            // Pools keep their input's parameters (calibration's range for
            // them is not used).
            Layer::MaxPool(_) => LayerQuant::MaxPool(current),
            Layer::AvgPool(_) => LayerQuant::AvgPool(current),
        };
        current = quant.output();
        // Cannot fail: the spec has at most MAX_LAYERS layers.
        let _ = layers.push(quant);
    }
    if let Some(names) = labels {
        builder.add_labels(names);
    }
    builder.finish(spec.clone(), input, layers).map_err(QuantizeError::Format)
}
