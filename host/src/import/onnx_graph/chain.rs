//! The chain of layers an ONNX graph is read into, one node at a time: each
//! supported operator as a method that checks the node's attributes and
//! pushes a layer, or folds a Relu, a bias or a batch norm into the open
//! one. `import_graph` (in `mod.rs`) walks the nodes and picks the method.

use super::constant::{Constant, Weights};
use crate::import::error::ImportError;
use crate::onnx::proto::{AttributeProto, NodeProto};
use shared::float::LayerParams;
use shared::layers::pool::avg_pool_matrix;
use shared::spec::{output_shape, AvgPoolSpec, ConvSpec, DenseSpec, Layer, LrnSpec, PoolSpec, Shape, MAX_LAYERS};
use std::collections::{HashMap, HashSet};

/// The running state of the chain: the tensor the next node must read and
/// the layers so far.
pub(super) struct Chain<'a> {
    pub(super) constants: HashMap<String, Constant>,
    pub(super) current: String,
    /// Shape of `current` (CHW; after the first dense layer, N x 1 x 1).
    pub(super) shape: Shape,
    pub(super) flattened: bool,
    pub(super) layers: Vec<(Layer, LayerParams)>,
    /// True while the last layer may still take a Relu, a bias or a batch
    /// norm: nothing has been applied after it.
    pub(super) open: bool,
    /// Inside the Reshape, MatMul, Reshape that `export-onnx` writes for an
    /// adaptive average pool: `Some(None)` after the first Reshape, then
    /// the MatMul's matrix.
    pub(super) pool_matrix: Option<Option<Weights>>,
    pub(super) notes: Vec<String>,
    pub(super) node: &'a NodeProto,
    /// The model's opset of the standard domain (7 to 23).
    pub(super) opset: i64,
    /// Every tensor a node or the graph's output reads.
    pub(super) read: HashSet<String>,
    /// Bytes the ConstantOfShape nodes have made so far.
    pub(super) filled: usize,
}

/// Most bytes the ConstantOfShape nodes of a graph may make, together: the
/// paper network's weights are 244 MB (its largest tensor, fc6, 151 MB). A
/// total, as each node is a few bytes of the file whatever it makes; a
/// quarter of the 2 GiB a fuzz target may use, as a MatMul's weights are
/// copied once (transposed). A shape beyond what is left is refused before
/// anything is allocated.
const MAX_CONSTANT_BYTES: usize = 1 << 29;

/// Most values an integer ConstantOfShape may make: integers are read only
/// as shapes and flags, a few values, and a long list would be copied (as
/// a shape) and printed (in an error) at its length.
const MAX_INT_CONSTANT_VALUES: usize = 64;

impl<'a> Chain<'a> {
    pub(super) fn err(&self, reason: impl Into<String>) -> ImportError {
        ImportError::Node { node: self.node.name.clone(), op: self.node.op_type.clone(), reason: reason.into() }
    }

    fn attr(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.attr(name).map_or(default, |a| a.i)
    }

    pub(super) fn int_attr(&self, name: &str, default: i64) -> i64 {
        self.int(name, default)
    }

    /// Refuses an attribute this node's operator does not have at the
    /// model's opset (it came in at `since`): a file that sets it means
    /// something this importer cannot tell.
    fn refuse_before(&self, name: &str, since: i64) -> Result<(), ImportError> {
        match self.attr(name) {
            Some(_) if self.opset < since => Err(self.err(format!(
                "{name} is an attribute of {} from opset {since}, and this model is opset {}",
                self.node.op_type, self.opset
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses a node whose outputs after the first are read: training
    /// statistics, masks, indices. Outputs that are named but never read
    /// (as Caffe2's exports name Dropout's mask) are fine.
    fn only_first_output(&self, what: &str) -> Result<(), ImportError> {
        if self.node.output.iter().skip(1).any(|o| !o.is_empty() && self.read.contains(o)) {
            return Err(self.err(format!("{what} is not supported; only its first output")));
        }
        Ok(())
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
    pub(super) fn data_input(&self) -> Result<(), ImportError> {
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
    pub(super) fn float_constant(&mut self, index: usize) -> Result<Option<Weights>, ImportError> {
        let Some(name) = self.node.input.get(index).filter(|n| !n.is_empty()) else { return Ok(None) };
        match self.constants.remove(name) {
            Some(Constant::Float { dims, values }) => Ok(Some((dims, values))),
            Some(Constant::Int { .. } | Constant::Quantized { .. }) => {
                Err(self.err(format!("input '{name}' is an integer tensor, not float weights")))
            }
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

    pub(super) fn advance(&mut self) -> Result<(), ImportError> {
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

    pub(super) fn conv(&mut self) -> Result<(), ImportError> {
        if self.flattened {
            return Err(self.err("a convolution after the flattening is not supported"));
        }
        let (dims, weights) = self.float_constant(1)?.ok_or_else(|| self.err("no weights"))?;
        let [out, per_group, kh, kw] = dims[..] else {
            return Err(self.err(format!("weights of shape {dims:?}; a 2-D convolution has O x I/groups x kH x kW")));
        };
        // A dimension of 0 leaves the tensor without values whatever the
        // others say; sizes are checked before the bias is made from `out`.
        if dims.iter().any(|&d| d == 0 || d > u32::MAX as usize) {
            return Err(self.err(format!("weights of shape {dims:?}: each dimension must be from 1 to {}", u32::MAX)));
        }
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
        let (Ok(stride), Ok(padding)) = (u32::try_from(strides[0]), u32::try_from(pads[0])) else {
            return Err(self.err(format!("strides {strides:?} pads {pads:?}: each must be from 0 to {}", u32::MAX)));
        };
        if groups < 1 || (per_group as i64).checked_mul(groups) != Some(self.shape.c as i64) {
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
            stride,
            padding,
            groups: groups as u32,
            relu: false,
        };
        self.push(Layer::Conv(spec), LayerParams { weights, bias })
    }

    pub(super) fn dense(
        &mut self,
        weights: Vec<f32>,
        rows_are_outputs: bool,
        dims: &[usize],
    ) -> Result<(), ImportError> {
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

    /// Gemm. Before opset 7 a `broadcast` attribute said whether C
    /// broadcasts; later C always does (as a bias of one value per output,
    /// all this importer reads), so a `broadcast` of 1 means the same and
    /// one of 0 is refused. C is optional from opset 11.
    pub(super) fn gemm(&mut self) -> Result<(), ImportError> {
        self.require_int("transA", 0)?;
        self.require_int("broadcast", 1)?;
        if self.opset < 11 && self.node.input.get(2).is_none_or(|c| c.is_empty()) {
            return Err(self.err(format!("no C input, which opset {} requires", self.opset)));
        }
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
    /// per-feature) vector, with leading ones, and on a map the two
    /// trailing ones that broadcasting (opset 7 on) needs to reach the
    /// channel axis: C x 1 x 1 (a plain C would be added along the width).
    pub(super) fn add_bias(&mut self, dims: &[usize], values: &[f32], scale: f32) -> Result<(), ImportError> {
        let channels = self.shape.c as usize;
        let (lead, tail) =
            if self.flattened { (dims.len().saturating_sub(1), 0) } else { (dims.len().saturating_sub(3), 2) };
        let aligned = dims.len() > tail
            && dims[..lead].iter().all(|&d| d == 1)
            && dims[dims.len() - tail..].iter().all(|&d| d == 1);
        let per_channel = values.len() == channels && aligned && dims[lead] == channels;
        if !per_channel {
            let form = if self.flattened { format!("{channels}") } else { format!("{channels} x 1 x 1") };
            return Err(
                self.err(format!("adds a constant of shape {dims:?}; only a bias of shape {form} is supported"))
            );
        }
        let Some((_, params)) = self.open_layer() else {
            return Err(self.err("adds a constant that is not a bias of the convolution or dense layer before it"));
        };
        params.bias.iter_mut().zip(values).for_each(|(b, v)| *b += scale * v);
        Ok(())
    }

    /// BatchNormalization in inference mode, folded into the layer before.
    /// Opsets 7 and 8 have `spatial` (1: per channel, the only kind read);
    /// from 14, `training_mode` (0 only).
    pub(super) fn batch_norm(&mut self) -> Result<(), ImportError> {
        self.refuse_before("training_mode", 14)?;
        if self.opset < 9 {
            self.require_int("spatial", 1)?;
        } else if self.attr("spatial").is_some() {
            return Err(self.err(format!("spatial is not an attribute of BatchNormalization at opset {}", self.opset)));
        }
        self.require_int("training_mode", 0)?;
        self.only_first_output("a BatchNormalization whose running statistics are read")?;
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

    /// Dropout, an identity in inference. Before opset 12 its ratio is an
    /// attribute; from 12 the ratio and `training_mode` are inputs, and a
    /// training mode that is not a constant false is refused. Its mask
    /// output must not be read.
    pub(super) fn dropout(&mut self) -> Result<(), ImportError> {
        self.only_first_output("a Dropout whose mask is read")?;
        if self.opset < 12 && self.node.input.len() > 1 {
            return Err(self.err(format!("takes {} inputs; before opset 12 it takes one", self.node.input.len())));
        }
        let Some(mode) = self.node.input.get(2).filter(|n| !n.is_empty()) else { return Ok(()) };
        match self.constants.get(mode) {
            Some(Constant::Int { values }) if values.iter().all(|&v| v == 0) => Ok(()),
            _ => Err(self.err(format!(
                "training_mode '{mode}' is not a constant false: only inference-mode Dropout is supported"
            ))),
        }
    }

    /// ConstantOfShape: a constant shape (int64) filled with the `value`
    /// attribute's one element (float 0 without it).
    pub(super) fn constant_of_shape(&mut self) -> Result<(), ImportError> {
        let shape = self.node.input.first().cloned().unwrap_or_default();
        let Some(Constant::Int { values: dims }) = self.constants.get(&shape) else {
            return Err(self.err(format!("shape '{shape}' is not a constant integer tensor")));
        };
        let dims: Option<Vec<usize>> = dims.iter().map(|&d| usize::try_from(d).ok()).collect();
        let count = dims.as_ref().and_then(|d| d.iter().try_fold(1usize, |n, &d| n.checked_mul(d)));
        let value = match self.attr("value").and_then(|a| a.t.as_ref()) {
            Some(t) => super::constant::decode_tensor(t)?,
            None => Constant::Float { dims: vec![1], values: vec![0.0] },
        };
        let element = match value {
            Constant::Int { .. } if count.is_some_and(|n| n > MAX_INT_CONSTANT_VALUES) => {
                return Err(self.err(format!(
                    "shape '{shape}' gives an integer tensor of over {MAX_INT_CONSTANT_VALUES} values; \
                     integers are read only as shapes and flags"
                )))
            }
            Constant::Int { .. } => 8,
            Constant::Float { .. } => 4,
            Constant::Quantized { .. } => return Err(self.err("a value of other than one float32 or int64 element")),
        };
        let filled = count.and_then(|n| n.checked_mul(element)?.checked_add(self.filled));
        let (Some(dims), Some(count), Some(filled)) = (dims, count, filled.filter(|&b| b <= MAX_CONSTANT_BYTES)) else {
            return Err(self.err(format!(
                "shape '{shape}' is negative, or with the ConstantOfShape nodes before it over {} MiB of values",
                MAX_CONSTANT_BYTES >> 20
            )));
        };
        let out = self.node.output.first().cloned().ok_or_else(|| self.err("has no output"))?;
        let constant = match value {
            Constant::Float { values, .. } if values.len() == 1 => {
                Constant::Float { dims, values: vec![values[0]; count] }
            }
            Constant::Int { values } if values.len() == 1 => Constant::Int { values: vec![values[0]; count] },
            _ => return Err(self.err("a value of other than one float32 or int64 element")),
        };
        self.constants.insert(out, constant);
        self.filled = filled;
        Ok(())
    }

    pub(super) fn relu(&mut self) -> Result<(), ImportError> {
        match self.open_layer() {
            Some((Layer::Conv(c), _)) if !c.relu => c.relu = true,
            Some((Layer::Dense(d), _)) if !d.relu => d.relu = true,
            _ => return Err(self.err("a Relu that does not follow a convolution or dense layer is not supported")),
        }
        // Nothing may be folded into a layer past its activation.
        self.open = false;
        Ok(())
    }

    /// MaxPool, padded or not, in floor or ceil mode. Its `storage_order`
    /// only orders the indices output, which is refused.
    pub(super) fn max_pool(&mut self) -> Result<(), ImportError> {
        self.only_first_output("MaxPool's indices output")?;
        let kernel = self.ints("kernel_shape").unwrap_or(&[]).to_vec();
        let strides = self.ints("strides").map_or(vec![1, 1], |s| s.to_vec());
        let pads = self.ints("pads").map_or(vec![0; 4], |p| p.to_vec());
        self.require_no_auto_pad()?;
        self.refuse_before("ceil_mode", 10)?;
        self.refuse_before("dilations", 10)?;
        if self.ints("dilations").is_some_and(|d| d.iter().any(|&x| x != 1)) {
            return Err(self.err("dilated max pooling is not supported"));
        }
        let square = kernel.len() == 2 && kernel[0] == kernel[1];
        let equal = strides.len() == 2 && strides[0] == strides[1];
        // Sizes as the spec holds them: from 1 to u32::MAX.
        let size = |v: &[i64]| v.first().and_then(|&n| u32::try_from(n).ok()).filter(|&n| n > 0);
        let (true, true, Some(k), Some(s)) = (square, equal, size(&kernel), size(&strides)) else {
            return Err(self.err(format!(
                "kernel {kernel:?} strides {strides:?}: only square kernels with equal strides, \
                 each from 1 to {}, are supported",
                u32::MAX
            )));
        };
        let Ok(pads) = <[i64; 4]>::try_from(pads.as_slice()) else {
            return Err(self.err(format!("pads {pads:?}: a 2-D pool has 4 (top, left, bottom, right)")));
        };
        if pads.iter().any(|&p| !(0..k as i64).contains(&p)) {
            return Err(self.err(format!("pads {pads:?}: each must be at least 0 and less than the kernel {k}")));
        }
        let mut spec = PoolSpec { kernel: k, stride: s, pads: pads.map(|p| p as u32) };
        let [top, left, bottom, right] = spec.pads;
        let (h, w) = (self.shape.h, self.shape.w);
        if self.int("ceil_mode", 0) != 0 {
            // Ceil mode is floor mode over the extra rows and columns the
            // last windows hang over.
            match (spec.ceil_pads(h, top, bottom), spec.ceil_pads(w, left, right)) {
                (Some(b), Some(r)) => spec.pads[2..].copy_from_slice(&[b, r]),
                _ => return Err(self.err(format!("kernel {k} is larger than the padded {h}x{w} map"))),
            }
        }
        if spec.out_len(h, top, spec.pads[2]).is_none() || spec.out_len(w, left, spec.pads[3]).is_none() {
            return Err(self.err(format!(
                "kernel {k} stride {s} pads {pads:?} on a {h}x{w} map: a window would hold no input value"
            )));
        }
        self.push(Layer::MaxPool(spec), LayerParams::default())
    }

    /// An average pool to `out_h` x `out_w`, or nothing where the map
    /// already has that size.
    pub(super) fn average_to(&mut self, out_h: u32, out_w: u32) -> Result<(), ImportError> {
        if (self.shape.h, self.shape.w) == (out_h, out_w) {
            self.notes.push(format!("node '{}': an average pool to the map's own size is an identity", self.node.name));
            return Ok(());
        }
        self.push(Layer::AvgPool(AvgPoolSpec { out_h, out_w }), LayerParams::default())
    }

    pub(super) fn average_pool(&mut self) -> Result<(), ImportError> {
        let kernel = self.ints("kernel_shape").unwrap_or(&[]).to_vec();
        let strides = self.ints("strides").map_or(vec![1, 1], |s| s.to_vec());
        self.require_no_auto_pad()?;
        if self.ints("pads").is_some_and(|p| p.iter().any(|&x| x != 0)) {
            return Err(self.err("padded average pooling is not supported"));
        }
        // Opset 19 added dilations to AveragePool.
        if self.ints("dilations").is_some_and(|d| d.iter().any(|&x| x != 1)) {
            return Err(self.err("dilated average pooling is not supported"));
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
    pub(super) fn reshape(&mut self) -> Result<(), ImportError> {
        let name = self.node.input.get(1).cloned().unwrap_or_default();
        let Some(Constant::Int { values }) = self.constants.get(&name) else {
            return Err(self.err(format!("shape '{name}' is not a constant integer tensor")));
        };
        let values = values.clone();
        // Opset 14's allowzero: a 0 is then a dimension of size 0, not "as the input's".
        if self.int("allowzero", 0) != 0 && values.contains(&0) {
            return Err(self.err(format!("reshape to {values:?} with allowzero=1 makes an empty tensor")));
        }
        // A map of up to (2^32-1)^2 cells: counted in i64 without overflow.
        let (c, cells) = (self.shape.c as i64, self.shape.h as i64 * self.shape.w as i64);
        match (&values[..], self.pool_matrix.take()) {
            (&[_, ch, n], None) if ch == c && n == cells && !self.flattened => {
                self.pool_matrix = Some(None);
                Ok(())
            }
            (&[_, ch, oh, ow], Some(Some((dims, matrix)))) if ch == c && oh > 0 && ow > 0 => {
                let not_pool = || self.err("a product over the spatial map that is not an adaptive average pool");
                let (Ok(out_h), Ok(out_w)) = (u32::try_from(oh), u32::try_from(ow)) else { return Err(not_pool()) };
                // The pool's own matrix, to compare with, is made only at
                // the size of the file's (whose values the file holds).
                if dims != [cells as usize, out_h as usize * out_w as usize] {
                    return Err(not_pool());
                }
                let pool = AvgPoolSpec { out_h, out_w };
                let mut want = vec![0.0f32; matrix.len()];
                avg_pool_matrix(&pool, self.shape, &mut want);
                if want.iter().zip(&matrix).any(|(a, b)| (a - b).abs() > 1e-6) {
                    return Err(not_pool());
                }
                self.average_to(out_h, out_w)
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

    pub(super) fn flatten(&mut self) -> Result<(), ImportError> {
        self.require_int("axis", 1)?;
        self.flattened = true;
        Ok(())
    }

    pub(super) fn lrn(&mut self) -> Result<(), ImportError> {
        let Some(size) = u32::try_from(self.int("size", 0)).ok().filter(|&s| s > 0) else {
            return Err(self.err(format!("size {}: must be from 1 to {}", self.int("size", 0), u32::MAX)));
        };
        let spec = LrnSpec {
            size,
            // No f32 times 5 divides back to exactly 1e-4: the paper's alpha
            // comes back within a rounding (9.999999e-5).
            alpha: self.float("alpha", 1e-4) / size as f32,
            beta: self.float("beta", 0.75),
            k: self.float("bias", 1.0),
        };
        self.push(Layer::Lrn(spec), LayerParams::default())
    }
}
