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
//! - MaxPool, padded or not, floor or ceil mode, becomes max pooling
//!   (ceil mode as the padding it takes); AveragePool with
//!   non-overlapping whole windows and GlobalAveragePool become adaptive
//!   average pooling (an identity where the map already has the size).
//! - Flatten, or a Reshape to N x (C*H*W), before the first Gemm or MatMul;
//!   Gemm, or MatMul then Add, becomes a fully connected layer.
//! - Dropout (its ratio attribute before opset 12, input after, and in
//!   inference mode) and Identity pass their input on; a Softmax at the
//!   very end is left out (the ranking of the logits is the same), with a
//!   note.
//! - ConstantOfShape (opset 9 Caffe exports store weights so) and Constant
//!   give constants.
//!
//! Opsets 7 to 23 are read. Where an operator's meaning changed in that
//! range, each version is read as it means (MaxPool's ceil_mode and
//! dilations from 10, BatchNormalization's `spatial` before 9 and
//! `training_mode` from 14, Dropout's `ratio` attribute before 12 and
//! `training_mode` input from 12, Gemm's C required before 11, Reshape's
//! `allowzero` from 14, AveragePool's dilations from 19) or refused by
//! name where it would compute something else.
//!
//! A model quantized elsewhere (QuantizeLinear/DequantizeLinear around the
//! operators, or QLinearConv, QLinearMatMul and com.microsoft's QGemm, as
//! onnxruntime's `quantize_static` writes them) is recognized by those
//! nodes; `quantized.rs` rewrites it into the float operators above plus
//! its scales and zero points, and [`import_onnx`] gives the int8 model's
//! spec and quantization ([`ImportedInt8`]) instead of a float network.
//!
//! Here: the model's opset, input, metadata and the walk over its nodes;
//! each operator's mapping is in `chain.rs`, tensor decoding in `constant.rs`.

mod chain;
mod constant;
mod external;
mod quantized;
#[cfg(test)]
mod tests;

use super::error::ImportError;
use crate::onnx::proto::{attribute_type, ModelProto, NodeProto};
use chain::Chain;
use constant::{decode_tensor, Constant};
use prost::Message;
use quantized::Rewritten;
use shared::float::FloatModel;
use shared::quant::QParams;
use shared::quantize::{FixedLayer, FixedQuant, FixedWeights};
use shared::spec::{Layer, ModelSpec, Normalize, Shape};
use std::collections::HashMap;
use std::path::PathBuf;

/// A decoded ONNX graph's network.
#[derive(Debug)]
pub struct ImportedGraph {
    pub model: FloatModel,
    /// What the import changed that a user should know of.
    pub notes: Vec<String>,
}

/// A quantized ONNX graph's network, as the int8 model file takes it: the
/// spec and the file's own scales, zero points and int8 weights.
#[derive(Debug)]
pub struct ImportedInt8 {
    pub spec: ModelSpec,
    pub quant: FixedQuant,
    pub notes: Vec<String>,
}

/// What an ONNX file holds: a float network, or one quantized elsewhere.
#[derive(Debug)]
pub enum Imported {
    Float(ImportedGraph),
    Int8(ImportedInt8),
}

/// Options a graph does not carry.
#[derive(Clone, Debug, Default)]
pub struct GraphOptions {
    /// Per-channel normalization in pixel units; default: what the file's
    /// metadata says (`host export-onnx` writes it), else ImageNet's for 3
    /// channels.
    pub normalize: Option<Normalize>,
    /// The model file's folder, where tensors stored outside the model
    /// (ONNX external data) are found; `None` refuses such tensors.
    pub folder: Option<PathBuf>,
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
    // Sizes as the spec holds them: from 1 to u32::MAX.
    let size = |d: Option<usize>| d.and_then(|d| u32::try_from(d).ok()).filter(|&d| d > 0);
    if let [_, c, h, w] = dims[..] {
        if let (Some(c), Some(h), Some(w)) = (size(c), size(h), size(w)) {
            return Ok((input.name.clone(), Shape::new(c, h, w)));
        }
    }
    Err(ImportError::Input(format!("'{}' has dimensions {dims:?}", input.name)))
}

/// The float network of the ONNX model in `bytes`; a quantized model is
/// refused (see [`import_onnx`]).
pub fn import_graph(bytes: &[u8], options: &GraphOptions) -> Result<ImportedGraph, ImportError> {
    match import_onnx(bytes, options)? {
        Imported::Float(graph) => Ok(graph),
        Imported::Int8(_) => Err(ImportError::Graph(
            "the model is quantized (QuantizeLinear/DequantizeLinear or QLinear operators): it imports as an int8 \
             model file, not a float network"
                .into(),
        )),
    }
}

/// A Constant node's tensor.
fn constant_node(node: &NodeProto, options: &GraphOptions) -> Result<Constant, ImportError> {
    let value = node.attribute.iter().find(|a| a.name == "value" && a.r#type == attribute_type::TENSOR);
    let t = value.and_then(|a| a.t.as_ref()).ok_or_else(|| ImportError::Node {
        node: node.name.clone(),
        op: node.op_type.clone(),
        reason: "only a tensor 'value' is supported".into(),
    })?;
    match external::is_external(t) {
        true => {
            let mut t = t.clone();
            external::load(&mut t, options.folder.as_deref())?;
            decode_tensor(&t)
        }
        false => decode_tensor(t),
    }
}

/// What a quantized graph's walk keeps per layer beside the chain.
struct Track<'r> {
    rewritten: &'r Rewritten,
    qparams: HashMap<String, QParams>,
    input: QParams,
    /// Each layer's output parameters, once known.
    outputs: Vec<Option<QParams>>,
    /// Each weighted layer's per-output-channel weight scales (one for
    /// per-tensor), `None` for other layers.
    scales: Vec<Option<Vec<f32>>>,
    /// Each layer's node and operator, for errors.
    nodes: Vec<(String, String)>,
}

fn node_err(node: &NodeProto, reason: impl Into<String>) -> ImportError {
    ImportError::Node { node: node.name.clone(), op: node.op_type.clone(), reason: reason.into() }
}

fn describe(qp: QParams) -> String {
    format!("scale {} zero point {}", qp.scale, qp.zero_point)
}

impl Track<'_> {
    /// The weight scales of a Conv, Gemm or MatMul node about to become a
    /// layer, checked to run along its output channels.
    fn weight_scales(&self, node: &NodeProto) -> Result<Option<Vec<f32>>, ImportError> {
        let Some(w) = node.input.get(1).and_then(|w| self.rewritten.weights.get(w)) else { return Ok(None) };
        let trans_b = node.attribute.iter().any(|a| a.name == "transB" && a.i != 0);
        let want = match node.op_type.as_str() {
            "Conv" => 0,
            "Gemm" if trans_b => 0,
            _ => 1,
        };
        match w.axis {
            Some(axis) if axis != want => Err(node_err(
                node,
                format!(
                    "weights quantized per channel along axis {axis}; supported are scales per output channel \
                     (axis {want}) or one per tensor"
                ),
            )),
            _ => Ok(Some(w.scales.clone())),
        }
    }

    /// The parameters of what the last layer (or the input) gives.
    fn last(&self) -> Option<QParams> {
        match self.outputs.last() {
            Some(qp) => *qp,
            None => Some(self.input),
        }
    }

    /// After `node`: a new layer (`pushed`, `pool` if a pooling layer,
    /// with `scales` if weighted), or the running tensor `current` moved
    /// on within the last one.
    fn after(
        &mut self,
        node: &NodeProto,
        current: &str,
        pushed: bool,
        pool: bool,
        scales: Option<Vec<f32>>,
    ) -> Result<(), ImportError> {
        let here = self.qparams.get(current).copied();
        if pushed {
            let input = self.last();
            if input.is_none() {
                let (name, op) = self.nodes.last().cloned().unwrap_or_default();
                return Err(ImportError::Node {
                    node: name,
                    op,
                    reason: "its output is not quantized (no QuantizeLinear), and the next layer reads it; \
                             supported are models quantized throughout"
                        .into(),
                });
            }
            let out = match (pool, here, input) {
                (true, Some(out), Some(inp)) if out != inp => {
                    return Err(node_err(
                        node,
                        format!(
                            "its output has {}, its input {}; an int8 pool keeps its input's",
                            describe(out),
                            describe(inp)
                        ),
                    ))
                }
                (true, _, inp) => inp,
                (false, here, _) => here,
            };
            if let Some(qp) = out {
                self.qparams.insert(current.to_string(), qp);
            }
            self.outputs.push(out);
            self.scales.push(scales);
            self.nodes.push((node.name.clone(), node.op_type.clone()));
            return Ok(());
        }
        match (self.last(), here) {
            (Some(had), Some(qp)) if had != qp => Err(node_err(
                node,
                format!(
                    "its output has {}, its input {}; supported is rescaling only in convolutions, fully \
                     connected layers and LRN",
                    describe(qp),
                    describe(had)
                ),
            )),
            (None, Some(qp)) => {
                if let Some(last) = self.outputs.last_mut() {
                    *last = Some(qp);
                }
                Ok(())
            }
            (Some(had), None) => {
                self.qparams.insert(current.to_string(), had);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The file's quantization for the chain's `layers`.
    fn finish(self, layers: &[(Layer, shared::float::LayerParams)]) -> Result<FixedQuant, ImportError> {
        let mut fixed = Vec::with_capacity(layers.len());
        for (((layer, params), (output, scales)), (name, op)) in
            layers.iter().zip(self.outputs.iter().zip(&self.scales)).zip(&self.nodes)
        {
            let err = |reason: &str| ImportError::Node { node: name.clone(), op: op.clone(), reason: reason.into() };
            let output = output.ok_or_else(|| {
                err("its output is never quantized (no QuantizeLinear); supported are models quantized throughout")
            })?;
            let weights = match (layer, scales) {
                (Layer::Conv(_) | Layer::Dense(_), None) => {
                    return Err(err(
                        "its weights are float; supported are int8 weights (DequantizeLinear of an int8 constant, \
                         or a QLinear operator's)",
                    ))
                }
                (Layer::Conv(_) | Layer::Dense(_), Some(scales)) => {
                    let channels = params.bias.len();
                    let scales = match scales.len() {
                        1 => vec![scales[0]; channels],
                        _ => scales.clone(),
                    };
                    let row = params.weights.len() / channels.max(1);
                    let mut values = Vec::with_capacity(params.weights.len());
                    for (k, &w) in params.weights.iter().enumerate() {
                        let s = scales[k / row];
                        let q = (w as f64 / s as f64).round();
                        // Exactly the stored value times its scale, or the
                        // weights were changed on the way (a folded
                        // BatchNormalization, Gemm's alpha).
                        if !(-127.0..=127.0).contains(&q) || q as f32 * s != w {
                            return Err(err(
                                "its int8 weights are changed before use (a BatchNormalization folded in, or \
                                 Gemm's alpha); supported are int8 weights used as stored",
                            ));
                        }
                        values.push(q as i8);
                    }
                    Some(FixedWeights { values, scales, bias: params.bias.clone() })
                }
                _ => None,
            };
            fixed.push(FixedLayer { output, weights });
        }
        Ok(FixedQuant { input: self.input, layers: fixed })
    }
}

/// The network of the ONNX model in `bytes`: float, or quantized elsewhere
/// (recognized by its QuantizeLinear, DequantizeLinear or QLinear nodes).
pub fn import_onnx(bytes: &[u8], options: &GraphOptions) -> Result<Imported, ImportError> {
    let mut model = ModelProto::decode(bytes).map_err(|e| ImportError::NotOnnx(e.to_string()))?;
    // Decoded one by one, each initializer's bytes are freed as its values land.
    let initializers = model.graph.as_mut().map(|g| std::mem::take(&mut g.initializer)).unwrap_or_default();
    let graph = model.graph.as_ref().ok_or_else(|| ImportError::NotOnnx("no graph".into()))?;
    let opset = model.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version);
    // Where an operator's meaning changed within these opsets, its method
    // in `chain.rs` reads it by the model's opset or refuses it by name.
    let opset = match opset {
        Some(v) if (7..=23).contains(&v) => v,
        Some(found) => return Err(ImportError::Opset { found }),
        None => return Err(ImportError::NotOnnx("no opset of the standard domain".into())),
    };
    let mut constants = HashMap::new();
    for mut t in initializers {
        if external::is_external(&t) {
            external::load(&mut t, options.folder.as_deref())?;
        }
        constants.insert(t.name.clone(), decode_tensor(&t)?);
    }
    let (input_name, input) = graph_input(&model, &constants)?;
    let graph_outputs: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let rewritten = match quantized::is_quantized(&graph.node) {
        true => Some(quantized::rewrite(&graph.node, &graph_outputs, &mut constants, |n| constant_node(n, options))?),
        false => None,
    };
    let (nodes, outputs) = match &rewritten {
        Some(r) => (&r.nodes[..], &r.outputs[..]),
        None => (&graph.node[..], &graph_outputs[..]),
    };
    let mut track = match &rewritten {
        Some(r) => {
            let input = r.qparams.get(&input_name).copied().ok_or_else(|| {
                ImportError::Input(format!(
                    "'{input_name}' of a quantized model is not quantized (no QuantizeLinear reads it); supported \
                     is a float input quantized per tensor"
                ))
            })?;
            Some(Track {
                rewritten: r,
                qparams: r.qparams.clone(),
                input,
                outputs: Vec::new(),
                scales: Vec::new(),
                nodes: Vec::new(),
            })
        }
        None => None,
    };
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
        opset,
        read: nodes.iter().flat_map(|n| n.input.iter()).chain(outputs.iter()).cloned().collect(),
        filled: 0,
    };
    for (i, node) in nodes.iter().enumerate() {
        chain.node = node;
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(ImportError::Unsupported {
                node: node.name.clone(),
                op: format!("{}:{}", node.domain, node.op_type),
            });
        }
        if node.op_type == "Constant" {
            let out = node.output.first().ok_or_else(|| chain.err("has no output"))?;
            chain.constants.insert(out.clone(), constant_node(node, options)?);
            continue;
        }
        if node.op_type == "ConstantOfShape" {
            // Opset 9: how the ONNX model zoo's Caffe exports store weights
            // (a shape, filled with one value).
            chain.constant_of_shape()?;
            continue;
        }
        chain.data_input()?;
        if chain.pool_matrix.is_some() && !matches!(node.op_type.as_str(), "MatMul" | "Reshape") {
            return Err(chain.err("breaks a Reshape, MatMul, Reshape average pool"));
        }
        let before = chain.layers.len();
        let scales = match (&track, node.op_type.as_str()) {
            (Some(t), "Conv" | "Gemm" | "MatMul") => t.weight_scales(node)?,
            _ => None,
        };
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
            "Dropout" => chain.dropout()?,
            "Identity" => {}
            "Softmax" | "LogSoftmax" if i + 1 == nodes.len() => {
                // Over the classes: axis 1 of N x classes (opsets before 13
                // default to 1, later ones to -1); over the batch it would
                // not rank the classes.
                if !matches!(chain.int_attr("axis", -1), 1 | -1) {
                    return Err(chain.err("a softmax over an axis other than the classes' is not supported"));
                }
                chain.notes.push(format!(
                    "node '{}': the final {} is left out; the logits rank the classes the same",
                    node.name, node.op_type
                ));
                break;
            }
            op => return Err(ImportError::Unsupported { node: node.name.clone(), op: op.to_string() }),
        }
        chain.advance()?;
        if let Some(t) = &mut track {
            let pushed = chain.layers.len() > before;
            let pool = pushed && matches!(chain.layers.last(), Some((Layer::MaxPool(_) | Layer::AvgPool(_), _)));
            t.after(node, &chain.current, pushed, pool, scales)?;
        }
    }
    let output = outputs.first().cloned().unwrap_or_default();
    let last = nodes.last().and_then(|n| n.output.first()).cloned().unwrap_or_default();
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
    let Some(track) = track else {
        return Ok(Imported::Float(ImportedGraph { model: FloatModel { spec, layers: params }, notes: chain.notes }));
    };
    let layers: Vec<_> = spec.layers.iter().cloned().zip(params).collect();
    let uint8 = track.rewritten.uint8;
    let quant = track.finish(&layers)?;
    let mut notes = chain.notes;
    notes.push("quantized model: its scales, zero points and int8 weights are kept (no calibration)".into());
    if uint8 {
        notes.push("uint8 activations are stored as int8 with their zero points moved by 128 (exact)".into());
    }
    Ok(Imported::Int8(ImportedInt8 { spec, quant, notes }))
}
