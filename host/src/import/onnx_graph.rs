//! An ONNX graph as a spec and float weights. The graph must be one chain
//! of layers, as AlexNets are: every node reads the previous node's output
//! plus constants (initializers or Constant nodes). `torch.onnx.export` of
//! torchvision's `alexnet` and `host export-onnx` both produce such graphs.
//!
//! How each operator maps (anything else is [`ImportError::Unsupported`]):
//! - Conv (square kernel, equal strides and pads, no dilation) becomes a
//!   convolution; a Relu, an Add of a per-channel constant or a
//!   BatchNormalization right after it is folded into it.
//! - LRN becomes LRN with alpha divided by size (ONNX divides by size, the
//!   spec, like the paper, does not).
//! - MaxPool without padding becomes max pooling; AveragePool with
//!   non-overlapping whole windows and GlobalAveragePool become adaptive
//!   average pooling (an identity where the map already has the size).
//! - Flatten, or a Reshape to N x (C*H*W), before the first Gemm or MatMul;
//!   Gemm, or MatMul then Add, becomes a fully connected layer.
//! - Dropout and Identity pass their input on; a Softmax at the very end is
//!   left out (the ranking of the logits is the same), with a note.

use super::error::ImportError;
use crate::onnx::proto::{attribute_type, data_type, AttributeProto, ModelProto, NodeProto, TensorProto};
use prost::Message;
use shared::float::{FloatModel, LayerParams};
use shared::layers::pool::avg_pool_matrix;
use shared::spec::{
    output_shape, AvgPoolSpec, ConvSpec, DenseSpec, Layer, LrnSpec, ModelSpec, Normalize, PoolSpec, Shape, MAX_LAYERS,
};
use std::collections::HashMap;

/// A decoded ONNX graph's network.
#[derive(Debug)]
pub struct ImportedGraph {
    pub model: FloatModel,
    /// What the import changed that a user should know of.
    pub notes: Vec<String>,
}

/// A float constant's dimensions and values.
type Weights = (Vec<usize>, Vec<f32>);

/// A constant tensor: its dimensions and values.
#[derive(Clone, Debug)]
enum Constant {
    Float { dims: Vec<usize>, values: Vec<f32> },
    Int { values: Vec<i64> },
}

fn tensor_error(t: &TensorProto, reason: impl Into<String>) -> ImportError {
    ImportError::Tensor { name: t.name.clone(), reason: reason.into() }
}

fn decode_tensor(t: &TensorProto) -> Result<Constant, ImportError> {
    if t.data_location == 1 || !t.external_data.is_empty() {
        return Err(tensor_error(
            t,
            "its values are in an external file; export with the weights embedded (torch.onnx.export does so below 2 GB)",
        ));
    }
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| tensor_error(t, format!("negative dimension in {:?}", t.dims)))?;
    let count = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(|| tensor_error(t, "too large"))?;
    let check = |n: usize| {
        if n == count {
            Ok(())
        } else {
            Err(tensor_error(t, format!("{n} values for dimensions {dims:?}")))
        }
    };
    match t.data_type {
        data_type::FLOAT => {
            let values: Vec<f32> = if t.raw_data.is_empty() {
                t.float_data.clone()
            } else {
                if !t.raw_data.len().is_multiple_of(4) {
                    return Err(tensor_error(t, "raw data is not a whole number of float32 values"));
                }
                t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            };
            check(values.len())?;
            Ok(Constant::Float { dims, values })
        }
        data_type::INT64 => {
            let values: Vec<i64> = if t.raw_data.is_empty() {
                t.int64_data.clone()
            } else {
                if !t.raw_data.len().is_multiple_of(8) {
                    return Err(tensor_error(t, "raw data is not a whole number of int64 values"));
                }
                t.raw_data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
            };
            check(values.len())?;
            Ok(Constant::Int { values })
        }
        other => Err(tensor_error(t, format!("{} values; the importer reads FLOAT weights", data_type::name(other)))),
    }
}

/// The running state of the chain: the tensor the next node must read and
/// the layers so far.
struct Chain<'a> {
    constants: HashMap<String, Constant>,
    current: String,
    /// Shape of `current` (CHW; after the first dense layer, N x 1 x 1).
    shape: Shape,
    flattened: bool,
    layers: Vec<(Layer, LayerParams)>,
    /// True while the last layer may still take a Relu, a bias or a batch
    /// norm: nothing has been applied after it.
    open: bool,
    /// Inside the Reshape, MatMul, Reshape that `export-onnx` writes for an
    /// adaptive average pool: `Some(None)` after the first Reshape, then
    /// the MatMul's matrix.
    pool_matrix: Option<Option<Weights>>,
    notes: Vec<String>,
    node: &'a NodeProto,
}

impl<'a> Chain<'a> {
    fn err(&self, reason: impl Into<String>) -> ImportError {
        ImportError::Node { node: self.node.name.clone(), op: self.node.op_type.clone(), reason: reason.into() }
    }

    fn attr(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.attr(name).map_or(default, |a| a.i)
    }

    fn float(&self, name: &str, default: f32) -> f32 {
        self.attr(name).map_or(default, |a| a.f)
    }

    fn ints(&self, name: &str) -> Option<&'a [i64]> {
        self.attr(name).map(|a| a.ints.as_slice())
    }

    /// Refuses an attribute unless it has the value this importer runs.
    fn require_int(&self, name: &str, want: i64) -> Result<(), ImportError> {
        match self.attr(name) {
            Some(a) if a.i != want => Err(self.err(format!("{name}={} is not supported (only {want})", a.i))),
            _ => Ok(()),
        }
    }

    fn require_no_auto_pad(&self) -> Result<(), ImportError> {
        match self.attr("auto_pad").map(|a| String::from_utf8_lossy(&a.s).into_owned()) {
            None => Ok(()),
            Some(p) if p == "NOTSET" || p.is_empty() => Ok(()),
            Some(p) => Err(self.err(format!("auto_pad={p} is not supported; export with explicit pads"))),
        }
    }

    /// The node's data input, which must be the running tensor.
    fn data_input(&self) -> Result<(), ImportError> {
        match self.node.input.first() {
            Some(i) if *i == self.current => Ok(()),
            Some(i) => Err(self.err(format!(
                "reads '{i}', not the previous layer's output '{}': only a single chain of layers is supported",
                self.current
            ))),
            None => Err(self.err("has no input")),
        }
    }

    /// Takes a float constant input out of the table (weights are read
    /// once; not copying them matters at 240 MB).
    fn float_constant(&mut self, index: usize) -> Result<Option<Weights>, ImportError> {
        let Some(name) = self.node.input.get(index).filter(|n| !n.is_empty()) else { return Ok(None) };
        match self.constants.remove(name) {
            Some(Constant::Float { dims, values }) => Ok(Some((dims, values))),
            Some(Constant::Int { .. }) => Err(self.err(format!("input '{name}' is an integer tensor, not weights"))),
            None => Err(self.err(format!(
                "input '{name}' is not a constant (an initializer or a Constant node), or is read twice"
            ))),
        }
    }

    fn push(&mut self, layer: Layer, params: LayerParams) -> Result<(), ImportError> {
        if self.layers.len() >= MAX_LAYERS {
            return Err(self.err(format!("more than {MAX_LAYERS} layers")));
        }
        let index = self.layers.len();
        self.shape = output_shape(index, &layer, self.shape).map_err(|e| self.err(e.to_string()))?;
        self.open = matches!(layer, Layer::Conv(_) | Layer::Dense(_));
        self.layers.push((layer, params));
        Ok(())
    }

    fn advance(&mut self) -> Result<(), ImportError> {
        self.current = self.node.output.first().cloned().ok_or_else(|| self.err("has no output"))?;
        Ok(())
    }

    /// The last layer, if it is a convolution or dense layer nothing has
    /// been applied after.
    fn open_layer(&mut self) -> Option<&mut (Layer, LayerParams)> {
        if self.open {
            self.layers.last_mut()
        } else {
            None
        }
    }

    fn conv(&mut self) -> Result<(), ImportError> {
        if self.flattened {
            return Err(self.err("a convolution after the flattening is not supported"));
        }
        let (dims, weights) = self.float_constant(1)?.ok_or_else(|| self.err("no weights"))?;
        let [out, per_group, kh, kw] = dims[..] else {
            return Err(self.err(format!("weights of shape {dims:?}; a 2-D convolution has O x I/groups x kH x kW")));
        };
        if kh != kw {
            return Err(self.err(format!("kernel {kh}x{kw}: only square kernels are supported")));
        }
        let groups = self.int("group", 1);
        let strides = self.ints("strides").unwrap_or(&[1, 1]).to_vec();
        let pads = self.ints("pads").unwrap_or(&[0, 0, 0, 0]).to_vec();
        if self.ints("dilations").is_some_and(|d| d.iter().any(|&x| x != 1)) {
            return Err(self.err("dilated convolutions are not supported"));
        }
        self.require_no_auto_pad()?;
        if strides.len() != 2 || strides[0] != strides[1] {
            return Err(self.err(format!("strides {strides:?}: only equal strides are supported")));
        }
        if pads.len() != 4 || pads.iter().any(|&p| p != pads[0]) {
            return Err(self.err(format!("pads {pads:?}: only the same padding on every side is supported")));
        }
        if groups < 1 || per_group as i64 * groups != self.shape.c as i64 {
            return Err(self.err(format!(
                "weights take {per_group} channels x {groups} groups, but its input has {} channels",
                self.shape.c
            )));
        }
        let bias = match self.float_constant(2)? {
            Some((d, b)) if d == [out] => b,
            Some((d, _)) => return Err(self.err(format!("bias of shape {d:?}, expected [{out}]"))),
            None => vec![0.0; out],
        };
        let spec = ConvSpec {
            out_channels: out as u32,
            kernel: kh as u32,
            stride: strides[0] as u32,
            padding: pads[0] as u32,
            groups: groups as u32,
            relu: false,
        };
        self.push(Layer::Conv(spec), LayerParams { weights, bias })
    }

    fn dense(&mut self, weights: Vec<f32>, rows_are_outputs: bool, dims: &[usize]) -> Result<(), ImportError> {
        let [a, b] = dims[..] else { return Err(self.err(format!("weights of shape {dims:?}, expected 2-D"))) };
        let (out, inp) = if rows_are_outputs { (a, b) } else { (b, a) };
        let features = self.shape.len();
        if inp != features {
            return Err(self.err(format!("weights take {inp} inputs, but the previous layer gives {features}")));
        }
        if !self.flattened && (self.shape.h, self.shape.w) != (1, 1) {
            return Err(self.err("a fully connected layer on a map that was not flattened (Flatten or Reshape)"));
        }
        // The spec keeps [out][in], as PyTorch's Linear does.
        let weights = if rows_are_outputs {
            weights
        } else {
            (0..out * inp).map(|k| weights[(k % inp) * out + k / inp]).collect()
        };
        self.flattened = true;
        let spec = DenseSpec { out_features: out as u32, relu: false, dropout: false };
        self.push(Layer::Dense(spec), LayerParams { weights, bias: vec![0.0; out] })
    }

    fn gemm(&mut self) -> Result<(), ImportError> {
        self.require_int("transA", 0)?;
        let (dims, mut weights) = self.float_constant(1)?.ok_or_else(|| self.err("no weights"))?;
        let (alpha, beta) = (self.float("alpha", 1.0), self.float("beta", 1.0));
        weights.iter_mut().for_each(|w| *w *= alpha);
        self.dense(weights, self.int("transB", 0) == 1, &dims)?;
        if let Some((d, c)) = self.float_constant(2)? {
            self.add_bias(&d, &c, beta)?;
        }
        Ok(())
    }

    /// Adds a constant to the bias of the open layer: a per-channel (or
    /// per-feature) vector, possibly with leading and trailing ones.
    fn add_bias(&mut self, dims: &[usize], values: &[f32], scale: f32) -> Result<(), ImportError> {
        let channels = self.shape.c as usize;
        let per_channel = values.len() == channels && dims.iter().filter(|&&d| d != 1).count() <= 1;
        if !per_channel {
            return Err(
                self.err(format!("adds a constant of shape {dims:?}; only a bias of {channels} values is supported"))
            );
        }
        let Some((_, params)) = self.open_layer() else {
            return Err(self.err("adds a constant that is not a bias of the convolution or dense layer before it"));
        };
        params.bias.iter_mut().zip(values).for_each(|(b, v)| *b += scale * v);
        Ok(())
    }

    fn batch_norm(&mut self) -> Result<(), ImportError> {
        let eps = self.float("epsilon", 1e-5);
        let mut parts: Vec<Vec<f32>> = Vec::new();
        for (i, what) in [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")] {
            let (_, v) = self.float_constant(i)?.ok_or_else(|| self.err(format!("no {what}")))?;
            if v.len() != self.shape.c as usize {
                return Err(self.err(format!("{what} has {} values for {} channels", v.len(), self.shape.c)));
            }
            parts.push(v);
        }
        let Some((Layer::Conv(_) | Layer::Dense(_), params)) = self.open_layer() else {
            return Err(self.err("only a batch norm right after a convolution or dense layer can be folded"));
        };
        // y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta
        let [gamma, beta, mean, var] = &parts[..] else { unreachable!("four inputs read") };
        let per_out = params.weights.len() / params.bias.len();
        for (c, (w, b)) in params.weights.chunks_exact_mut(per_out).zip(params.bias.iter_mut()).enumerate() {
            let g = gamma[c] / (var[c] + eps).sqrt();
            w.iter_mut().for_each(|w| *w *= g);
            *b = (*b - mean[c]) * g + beta[c];
        }
        Ok(())
    }

    fn relu(&mut self) -> Result<(), ImportError> {
        match self.open_layer() {
            Some((Layer::Conv(c), _)) if !c.relu => c.relu = true,
            Some((Layer::Dense(d), _)) if !d.relu => d.relu = true,
            _ => return Err(self.err("a Relu that does not follow a convolution or dense layer is not supported")),
        }
        // Nothing may be folded into a layer past its activation.
        self.open = false;
        Ok(())
    }

    fn max_pool(&mut self) -> Result<(), ImportError> {
        if self.node.output.len() > 1 {
            return Err(self.err("MaxPool with an indices output is not supported"));
        }
        let kernel = self.ints("kernel_shape").unwrap_or(&[]).to_vec();
        let strides = self.ints("strides").map_or(vec![1, 1], |s| s.to_vec());
        self.require_no_auto_pad()?;
        if self.ints("pads").is_some_and(|p| p.iter().any(|&x| x != 0)) {
            return Err(self.err("padded max pooling is not supported"));
        }
        if self.ints("dilations").is_some_and(|d| d.iter().any(|&x| x != 1)) {
            return Err(self.err("dilated max pooling is not supported"));
        }
        if kernel.len() != 2 || kernel[0] != kernel[1] || strides.len() != 2 || strides[0] != strides[1] {
            return Err(self.err(format!(
                "kernel {kernel:?} strides {strides:?}: only square kernels with equal strides are supported"
            )));
        }
        let (k, s) = (kernel[0] as u32, strides[0] as u32);
        // Ceil mode adds a window only where one would hang over the edge.
        let whole = |n: u32| n >= k && (n - k).is_multiple_of(s);
        if self.int("ceil_mode", 0) != 0 && !(whole(self.shape.h) && whole(self.shape.w)) {
            return Err(self.err("ceil_mode=1 with a window over the edge is not supported"));
        }
        self.push(Layer::MaxPool(PoolSpec { kernel: k, stride: s }), LayerParams::default())
    }

    /// An average pool to `out_h` x `out_w`, or nothing where the map
    /// already has that size.
    fn average_to(&mut self, out_h: u32, out_w: u32) -> Result<(), ImportError> {
        if (self.shape.h, self.shape.w) == (out_h, out_w) {
            self.notes.push(format!("node '{}': an average pool to the map's own size is an identity", self.node.name));
            return Ok(());
        }
        self.push(Layer::AvgPool(AvgPoolSpec { out_h, out_w }), LayerParams::default())
    }

    fn average_pool(&mut self) -> Result<(), ImportError> {
        let kernel = self.ints("kernel_shape").unwrap_or(&[]).to_vec();
        let strides = self.ints("strides").map_or(vec![1, 1], |s| s.to_vec());
        self.require_no_auto_pad()?;
        if self.ints("pads").is_some_and(|p| p.iter().any(|&x| x != 0)) {
            return Err(self.err("padded average pooling is not supported"));
        }
        let (h, w) = (self.shape.h as i64, self.shape.w as i64);
        let tiles = kernel.len() == 2 && kernel == strides && kernel[0] > 0 && kernel[1] > 0;
        if !tiles || h % kernel[0] != 0 || w % kernel[1] != 0 {
            return Err(self.err(format!(
                "kernel {kernel:?} strides {strides:?} on a {h}x{w} map: only windows that tile the map are supported"
            )));
        }
        self.average_to((h / kernel[0]) as u32, (w / kernel[1]) as u32)
    }

    /// A Reshape: the flattening before the classifier, or either end of
    /// an adaptive average pool written as a product.
    fn reshape(&mut self) -> Result<(), ImportError> {
        let name = self.node.input.get(1).cloned().unwrap_or_default();
        let Some(Constant::Int { values }) = self.constants.get(&name) else {
            return Err(self.err(format!("shape '{name}' is not a constant integer tensor")));
        };
        let values = values.clone();
        let (c, cells) = (self.shape.c as i64, (self.shape.h * self.shape.w) as i64);
        match (&values[..], self.pool_matrix.take()) {
            (&[_, ch, n], None) if ch == c && n == cells && !self.flattened => {
                self.pool_matrix = Some(None);
                Ok(())
            }
            (&[_, ch, oh, ow], Some(Some((dims, matrix)))) if ch == c && oh > 0 && ow > 0 => {
                let pool = AvgPoolSpec { out_h: oh as u32, out_w: ow as u32 };
                let mut want = vec![0.0f32; (cells * oh * ow) as usize];
                let fits = dims == [cells as usize, (oh * ow) as usize];
                if fits {
                    avg_pool_matrix(&pool, self.shape, &mut want);
                }
                if !fits || want.iter().zip(&matrix).any(|(a, b)| (a - b).abs() > 1e-6) {
                    return Err(self.err("a product over the spatial map that is not an adaptive average pool"));
                }
                self.average_to(pool.out_h, pool.out_w)
            }
            _ => {
                let features = self.shape.len() as i64;
                let flat = matches!(values[..], [n, f] if (n == -1 || n >= 0) && (f == -1 || f == features) && (n != -1 || f != -1));
                if !flat {
                    return Err(
                        self.err(format!("reshape to {values:?}: only a flattening to N x {features} is supported"))
                    );
                }
                self.flattened = true;
                Ok(())
            }
        }
    }

    fn flatten(&mut self) -> Result<(), ImportError> {
        self.require_int("axis", 1)?;
        self.flattened = true;
        Ok(())
    }

    fn lrn(&mut self) -> Result<(), ImportError> {
        let size = self.int("size", 0);
        if size <= 0 {
            return Err(self.err("no size"));
        }
        let spec = LrnSpec {
            size: size as u32,
            // No f32 times 5 divides back to exactly 1e-4: the paper's alpha
            // comes back within a rounding (9.999999e-5).
            alpha: self.float("alpha", 1e-4) / size as f32,
            beta: self.float("beta", 0.75),
            k: self.float("bias", 1.0),
        };
        self.push(Layer::Lrn(spec), LayerParams::default())
    }
}

/// Options a graph does not carry.
#[derive(Clone, Debug, Default)]
pub struct GraphOptions {
    /// Per-channel normalization in pixel units; default: what the file's
    /// metadata says (`host export-onnx` writes it), else ImageNet's for 3
    /// channels.
    pub normalize: Option<Normalize>,
}

/// Reads the metadata `host export-onnx` writes: `normalize_mean` and
/// `normalize_std`, lists of numbers, one per input channel. Lists that are
/// there but unreadable, or of another length, are an error: `Normalize`
/// would leave channels it was not given unnormalized.
fn normalize_from_metadata(model: &ModelProto, channels: usize) -> Result<Option<Normalize>, ImportError> {
    let list = |key: &str| -> Option<Result<Vec<f32>, ImportError>> {
        let v = &model.metadata_props.iter().find(|p| p.key == key)?.value;
        let values: Option<Vec<f32>> = v.trim_matches(['[', ']']).split(',').map(|x| x.trim().parse().ok()).collect();
        Some(values.ok_or_else(|| ImportError::Graph(format!("metadata {key} is not a list of numbers: '{v}'"))))
    };
    let (Some(mean), Some(std)) = (list("normalize_mean"), list("normalize_std")) else { return Ok(None) };
    let (mean, std) = (mean?, std?);
    match Normalize::from_channels(&mean, &std) {
        Some(n) if mean.len() == channels => Ok(Some(n)),
        _ => Err(ImportError::Graph(format!(
            "metadata normalize_mean/normalize_std give {} and {} values for a {channels}-channel input; \
             give --mean and --std",
            mean.len(),
            std.len()
        ))),
    }
}

fn graph_input(model: &ModelProto, initializers: &HashMap<String, Constant>) -> Result<(String, Shape), ImportError> {
    let graph = model.graph.as_ref().ok_or_else(|| ImportError::NotOnnx("no graph".into()))?;
    let input = graph
        .input
        .iter()
        .find(|i| !initializers.contains_key(&i.name))
        .ok_or_else(|| ImportError::Input("every graph input is an initializer".into()))?;
    let dims = crate::onnx::proto::input_dims(input);
    match dims[..] {
        [_, Some(c), Some(h), Some(w)] if c > 0 && h > 0 && w > 0 => {
            Ok((input.name.clone(), Shape::new(c as u32, h as u32, w as u32)))
        }
        _ => Err(ImportError::Input(format!("'{}' has dimensions {dims:?}", input.name))),
    }
}

/// The network of the ONNX model in `bytes`.
pub fn import_graph(bytes: &[u8], options: &GraphOptions) -> Result<ImportedGraph, ImportError> {
    let mut model = ModelProto::decode(bytes).map_err(|e| ImportError::NotOnnx(e.to_string()))?;
    // Decoded one by one, each initializer's bytes are freed as its values land.
    let initializers = model.graph.as_mut().map(|g| std::mem::take(&mut g.initializer)).unwrap_or_default();
    let graph = model.graph.as_ref().ok_or_else(|| ImportError::NotOnnx("no graph".into()))?;
    let opset = model.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version);
    match opset {
        Some(v) if (11..=18).contains(&v) => {}
        Some(found) => return Err(ImportError::Opset { found }),
        None => return Err(ImportError::NotOnnx("no opset of the standard domain".into())),
    }
    let mut constants = HashMap::new();
    for t in initializers {
        constants.insert(t.name.clone(), decode_tensor(&t)?);
    }
    let (input_name, input) = graph_input(&model, &constants)?;
    let empty = NodeProto::default();
    let mut chain = Chain {
        constants,
        current: input_name,
        shape: input,
        flattened: false,
        layers: Vec::new(),
        open: false,
        pool_matrix: None,
        notes: Vec::new(),
        node: &empty,
    };
    for (i, node) in graph.node.iter().enumerate() {
        chain.node = node;
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(ImportError::Unsupported {
                node: node.name.clone(),
                op: format!("{}:{}", node.domain, node.op_type),
            });
        }
        if node.op_type == "Constant" {
            let value = node.attribute.iter().find(|a| a.name == "value" && a.r#type == attribute_type::TENSOR);
            let t = value.and_then(|a| a.t.as_ref()).ok_or_else(|| chain.err("only a tensor 'value' is supported"))?;
            let out = node.output.first().ok_or_else(|| chain.err("has no output"))?;
            chain.constants.insert(out.clone(), decode_tensor(t)?);
            continue;
        }
        chain.data_input()?;
        if chain.pool_matrix.is_some() && !matches!(node.op_type.as_str(), "MatMul" | "Reshape") {
            return Err(chain.err("breaks a Reshape, MatMul, Reshape average pool"));
        }
        match node.op_type.as_str() {
            "Conv" => chain.conv()?,
            "Relu" => chain.relu()?,
            "LRN" => chain.lrn()?,
            "MaxPool" => chain.max_pool()?,
            "AveragePool" => chain.average_pool()?,
            "GlobalAveragePool" => chain.average_to(1, 1)?,
            "BatchNormalization" => chain.batch_norm()?,
            "Flatten" => chain.flatten()?,
            "Reshape" => chain.reshape()?,
            "Gemm" => chain.gemm()?,
            "MatMul" => {
                let (dims, w) = chain.float_constant(1)?.ok_or_else(|| chain.err("no weights"))?;
                match chain.pool_matrix {
                    Some(None) => chain.pool_matrix = Some(Some((dims, w))),
                    _ => chain.dense(w, false, &dims)?,
                }
            }
            "Add" => {
                let (dims, b) = chain.float_constant(1)?.ok_or_else(|| chain.err("adds a non-constant"))?;
                chain.add_bias(&dims, &b, 1.0)?;
            }
            "Dropout" | "Identity" => {
                if node.output.len() > 1 && node.output[1..].iter().any(|o| !o.is_empty()) {
                    return Err(chain.err("a Dropout whose mask is used is not supported"));
                }
            }
            "Softmax" | "LogSoftmax" if i + 1 == graph.node.len() => {
                chain.notes.push(format!(
                    "node '{}': the final {} is left out; the logits rank the classes the same",
                    node.name, node.op_type
                ));
                break;
            }
            op => return Err(ImportError::Unsupported { node: node.name.clone(), op: op.to_string() }),
        }
        chain.advance()?;
    }
    let output = graph.output.first().map(|o| o.name.clone()).unwrap_or_default();
    let last = graph.node.last().and_then(|n| n.output.first()).cloned().unwrap_or_default();
    if output != chain.current && output != last {
        return Err(ImportError::Graph(format!(
            "the graph's output '{output}' is not the end of the chain of layers ('{}')",
            chain.current
        )));
    }
    let c = input.c as usize;
    let recorded = match options.normalize {
        Some(n) => Some(n),
        None => normalize_from_metadata(&model, c)?,
    };
    let normalize = match recorded {
        Some(n) => n,
        None if c == 3 => {
            chain
                .notes
                .push("normalization: ImageNet's mean and std (torchvision's); set --mean/--std otherwise".into());
            Normalize::IMAGENET
        }
        None => {
            return Err(ImportError::Graph(format!(
                "the file does not say how a {c}-channel input is normalized; give --mean and --std"
            )))
        }
    };
    let mut spec = ModelSpec { input, normalize, resize: 0, layers: heapless::Vec::new() };
    let mut params = Vec::new();
    for (layer, p) in chain.layers {
        // At most MAX_LAYERS: `push` counted.
        let _ = spec.layers.push(layer);
        params.push(p);
    }
    spec.validate()?;
    Ok(ImportedGraph { model: FloatModel { spec, layers: params }, notes: chain.notes })
}
