//! Models quantized elsewhere (onnxruntime's `quantize_static` and other
//! tools): their QuantizeLinear / DequantizeLinear pairs (QDQ) and
//! QLinearConv, QLinearMatMul and com.microsoft's QGemm (QOperator) are
//! rewritten into the float operators the chain reads, with each
//! activation tensor's scale and zero point and each weight tensor's
//! per-channel scales kept aside. `import_onnx` then walks the float graph
//! as for any model and assembles the int8 model file from those, without
//! calibration.
//!
//! The int8 scheme (TFLite's) is what the file must fit, or it is refused
//! by name: int8 weights symmetric per output channel or per tensor (zero
//! point 0, -127..=127), activations per tensor int8 or uint8 (uint8 moves
//! to int8 with its zero point moved by 128, which is exact), int32 biases.

use super::constant::{Constant, IntKind};
use crate::import::error::ImportError;
use crate::onnx::proto::{AttributeProto, NodeProto};
use shared::quant::QParams;
use std::collections::HashMap;

/// Whether the graph holds any node of a quantized model.
pub(super) fn is_quantized(nodes: &[NodeProto]) -> bool {
    nodes.iter().any(|n| {
        matches!(n.op_type.as_str(), "QuantizeLinear" | "DequantizeLinear" | "QLinearConv" | "QLinearMatMul" | "QGemm")
            || n.op_type.starts_with("QLinear")
    })
}

/// Per-channel (or per-tensor) scales of int8 weights, as stored.
#[derive(Clone, Debug)]
pub(super) struct WeightScales {
    pub(super) scales: Vec<f32>,
    /// The axis the scales run along; `None` for one scale.
    pub(super) axis: Option<usize>,
}

/// A quantized graph as a float one, with what the float one lost.
pub(super) struct Rewritten {
    pub(super) nodes: Vec<NodeProto>,
    /// Graph outputs, renamed as the nodes' tensors are.
    pub(super) outputs: Vec<String>,
    /// Scale and zero point (as int8) of each quantized activation tensor.
    pub(super) qparams: HashMap<String, QParams>,
    /// The scales of each dequantized int8 weight constant.
    pub(super) weights: HashMap<String, WeightScales>,
    /// Whether activations were uint8 anywhere.
    pub(super) uint8: bool,
}

struct Rewriter<'n> {
    constants: &'n mut HashMap<String, Constant>,
    node: &'n NodeProto,
    out: Rewritten,
    /// A dequantized (or quantized) tensor's name -> the tensor it stands for.
    rename: HashMap<String, String>,
}

fn err(node: &NodeProto, reason: impl Into<String>) -> ImportError {
    let op = match node.domain.as_str() {
        "" | "ai.onnx" => node.op_type.clone(),
        d => format!("{d}:{}", node.op_type),
    };
    ImportError::Node { node: node.name.clone(), op, reason: reason.into() }
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

impl Rewriter<'_> {
    fn err(&self, reason: impl Into<String>) -> ImportError {
        err(self.node, reason)
    }

    fn input(&self, i: usize) -> Option<&str> {
        self.node.input.get(i).map(String::as_str).filter(|n| !n.is_empty())
    }

    fn resolve(&self, name: &str) -> String {
        self.rename.get(name).cloned().unwrap_or_else(|| name.to_string())
    }

    /// A float scale input: one value, or one per channel.
    fn scales(&self, i: usize) -> Result<Vec<f32>, ImportError> {
        let name = self.input(i).ok_or_else(|| self.err(format!("no scale (input {i})")))?;
        match self.constants.get(name) {
            Some(Constant::Float { values, .. }) if !values.is_empty() => {
                if values.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                    return Err(self.err(format!("scale '{name}' has a value that is not positive and finite")));
                }
                Ok(values.clone())
            }
            _ => Err(self.err(format!("scale '{name}' is not a constant float tensor"))),
        }
    }

    /// A zero point input (absent: 0 of `default`): its values and type.
    fn zero_points(&self, i: usize, default: IntKind) -> Result<(Vec<i32>, IntKind), ImportError> {
        let Some(name) = self.input(i) else { return Ok((vec![0], default)) };
        match self.constants.get(name) {
            Some(Constant::Quantized { values, kind, .. }) => Ok((values.clone(), *kind)),
            _ => Err(self.err(format!("zero point '{name}' is not a constant integer tensor"))),
        }
    }

    /// An activation's per-tensor parameters, as int8 (uint8 zero points
    /// moved by 128).
    fn activation(&mut self, scale: usize, zero_point: usize) -> Result<QParams, ImportError> {
        let scales = self.scales(scale)?;
        let (zps, kind) = self.zero_points(zero_point, IntKind::Uint8)?;
        if kind == IntKind::Int32 {
            return Err(self.err("an int32 activation; supported are int8 and uint8 activations"));
        }
        if scales.len() != 1 || zps.len() != 1 {
            return Err(self.err(format!(
                "{} scales for an activation; supported are per-tensor activations (one scale and zero point)",
                scales.len().max(zps.len())
            )));
        }
        let zero_point = match kind {
            IntKind::Uint8 => {
                self.out.uint8 = true;
                zps[0] - 128
            }
            _ => zps[0],
        };
        Ok(QParams { scale: scales[0], zero_point })
    }

    /// Records `tensor`'s parameters; a tensor quantized twice must be
    /// quantized the same way.
    fn record(&mut self, tensor: &str, qp: QParams) -> Result<(), ImportError> {
        match self.out.qparams.get(tensor) {
            Some(had) if *had != qp => Err(self.err(format!(
                "'{tensor}' is quantized with scale {} zero point {} here and scale {} zero point {} before; \
                 supported is one scale and zero point per tensor",
                qp.scale, qp.zero_point, had.scale, had.zero_point
            ))),
            _ => {
                self.out.qparams.insert(tensor.to_string(), qp);
                Ok(())
            }
        }
    }

    /// The `axis` attribute (default 1, as QuantizeLinear and
    /// DequantizeLinear have it) over a tensor of `rank` dimensions.
    fn axis(&self, rank: usize) -> Result<usize, ImportError> {
        let axis = attr(self.node, "axis").map_or(1, |a| a.i);
        let a = if axis < 0 { axis + rank as i64 } else { axis };
        usize::try_from(a)
            .ok()
            .filter(|&a| a < rank)
            .ok_or_else(|| self.err(format!("axis {axis} of a rank-{rank} tensor")))
    }

    /// Int8 weights or an int32 bias (input `x`) dequantized into a float
    /// constant named `name`; `axis` is where per-channel scales run.
    fn dequantize_constant(
        &mut self,
        x: usize,
        scales: Vec<f32>,
        zps: (Vec<i32>, IntKind),
        axis: Option<usize>,
        name: &str,
    ) -> Result<(), ImportError> {
        let tensor = self.input(x).unwrap_or_default().to_string();
        let Some(Constant::Quantized { dims, values, kind }) = self.constants.get(&tensor) else {
            return Err(self.err(format!("'{tensor}' is not a constant int8 or int32 tensor")));
        };
        let (dims, kind) = (dims.clone(), *kind);
        let (zps, zp_kind) = zps;
        match kind {
            IntKind::Uint8 => {
                return Err(self.err(format!(
                    "'{tensor}' holds uint8 weights; supported are int8 weights with zero point 0 (symmetric)"
                )))
            }
            IntKind::Int8 | IntKind::Int32 if zps.iter().any(|&z| z != 0) => {
                return Err(self.err(format!(
                    "'{tensor}' has zero point {} (asymmetric); supported are {} weights with zero point 0 (symmetric)",
                    zps.iter().find(|&&z| z != 0).copied().unwrap_or(0),
                    kind.name()
                )))
            }
            _ if zp_kind != kind => {
                return Err(self.err(format!("'{tensor}': int8 weights with a {} zero point", zp_kind.name())))
            }
            _ => {}
        }
        if kind == IntKind::Int8 && values.contains(&-128) {
            return Err(self
                .err(format!("'{tensor}' holds the weight -128; supported are symmetric int8 weights, -127 to 127")));
        }
        let per_channel = match (scales.len(), axis) {
            (1, _) => None,
            (n, Some(a)) if dims.get(a) == Some(&n) => Some(a),
            (n, _) => return Err(self.err(format!("{n} scales for '{tensor}' of shape {dims:?} along axis {axis:?}"))),
        };
        // Row-major: the index along `axis` is (i / inner) % dims[axis].
        let inner: usize = per_channel.map_or(1, |a| dims[a + 1..].iter().product());
        let channel = |i: usize| per_channel.map_or(0, |a| (i / inner) % dims[a]);
        let floats: Vec<f32> = values.iter().enumerate().map(|(i, &q)| q as f32 * scales[channel(i)]).collect();
        if kind == IntKind::Int8 {
            self.out.weights.insert(name.to_string(), WeightScales { scales, axis: per_channel });
        }
        self.constants.insert(name.to_string(), Constant::Float { dims, values: floats });
        Ok(())
    }

    fn quantize_linear(&mut self) -> Result<(), ImportError> {
        let x = self.input(0).ok_or_else(|| self.err("has no input"))?.to_string();
        if self.constants.contains_key(&x) {
            return Err(self.err(format!(
                "quantizes the constant '{x}' when the model runs; supported are constants stored quantized"
            )));
        }
        if let Some(t) = attr(self.node, "output_dtype").filter(|a| a.i != 0) {
            if !matches!(t.i, 2 | 3) {
                return Err(self.err(format!("output_dtype {}; supported are int8 and uint8", t.i)));
            }
        }
        let qp = self.activation(1, 2)?;
        let x = self.resolve(&x);
        self.record(&x, qp)?;
        let y = self.node.output.first().ok_or_else(|| self.err("has no output"))?;
        self.rename.insert(y.clone(), x);
        Ok(())
    }

    fn dequantize_linear(&mut self) -> Result<(), ImportError> {
        let x = self.input(0).ok_or_else(|| self.err("has no input"))?.to_string();
        let y = self.node.output.first().cloned().ok_or_else(|| self.err("has no output"))?;
        if let Some(Constant::Quantized { dims, .. }) = self.constants.get(&x) {
            let rank = dims.len();
            let kind = match self.constants.get(&x) {
                Some(Constant::Quantized { kind, .. }) => *kind,
                _ => IntKind::Int8,
            };
            let scales = self.scales(1)?;
            let zps = self.zero_points(2, kind)?;
            let axis = if scales.len() > 1 { Some(self.axis(rank)?) } else { None };
            return self.dequantize_constant(0, scales, zps, axis, &y);
        }
        if self.constants.contains_key(&x) {
            return Err(self.err(format!("dequantizes the float constant '{x}'")));
        }
        // An activation: the tensor it was quantized from, with the same
        // parameters (a different scale here would be a rescaling).
        let qp = self.activation(1, 2)?;
        let x = self.resolve(&x);
        self.record(&x, qp)?;
        self.rename.insert(y, x);
        Ok(())
    }

    /// The float node for a QLinear one: `inputs` (already resolved) and
    /// `attributes`, writing the quantized node's output, whose parameters
    /// are inputs `scale` and `zero_point`.
    fn emit(&mut self, op: &str, inputs: Vec<String>, scale: usize, zero_point: usize) -> Result<(), ImportError> {
        let y = self.node.output.first().cloned().ok_or_else(|| self.err("has no output"))?;
        let qp = self.activation(scale, zero_point)?;
        self.record(&y, qp)?;
        let mut node = self.node.clone();
        node.op_type = op.to_string();
        node.domain = String::new();
        node.input = inputs;
        node.output = vec![y];
        node.attribute.retain(|a| !matches!(a.name.as_str(), "domain"));
        self.out.nodes.push(node);
        Ok(())
    }

    /// The data input `x` of a QLinear node and its parameters (inputs
    /// `scale`, `zero_point`), which must be those it was written with.
    fn quantized_input(&mut self, x: usize, scale: usize, zero_point: usize) -> Result<String, ImportError> {
        let name = self.input(x).ok_or_else(|| self.err("has no input"))?.to_string();
        let name = self.resolve(&name);
        let qp = self.activation(scale, zero_point)?;
        self.record(&name, qp)?;
        Ok(name)
    }

    /// Weights (inputs `w`, `scale`, `zp`) as a float constant; per-channel
    /// scales along `axis`.
    fn weights(&mut self, w: usize, scale: usize, zp: usize, axis: usize) -> Result<String, ImportError> {
        let name = format!("{}::dequantized", self.input(w).ok_or_else(|| self.err("no weights"))?);
        let scales = self.scales(scale)?;
        let kind = match self.constants.get(self.input(w).unwrap_or_default()) {
            Some(Constant::Quantized { kind, .. }) => *kind,
            _ => IntKind::Int8,
        };
        let zps = self.zero_points(zp, kind)?;
        self.dequantize_constant(w, scales, zps, Some(axis), &name)?;
        Ok(name)
    }

    /// An int32 bias (input `b`) at scale `input scale x weight scale`.
    fn bias(&mut self, b: usize, input_scale: usize, weight_scale: usize) -> Result<Option<String>, ImportError> {
        let Some(tensor) = self.input(b).map(str::to_string) else { return Ok(None) };
        match self.constants.get(&tensor) {
            Some(Constant::Quantized { kind: IntKind::Int32, .. }) => {}
            _ => return Err(self.err(format!("bias '{tensor}' is not a constant int32 tensor"))),
        }
        let x = self.scales(input_scale)?;
        let scales: Vec<f32> = self.scales(weight_scale)?.iter().map(|w| x[0] * w).collect();
        let name = format!("{tensor}::dequantized");
        let per_channel = (scales.len() > 1).then_some(0);
        self.dequantize_constant(b, scales, (vec![0], IntKind::Int32), per_channel, &name)?;
        Ok(Some(name))
    }

    fn qlinear_conv(&mut self) -> Result<(), ImportError> {
        let x = self.quantized_input(0, 1, 2)?;
        let w = self.weights(3, 4, 5, 0)?;
        let mut inputs = vec![x, w];
        if let Some(b) = self.bias(8, 1, 4)? {
            inputs.push(b);
        }
        self.emit("Conv", inputs, 6, 7)
    }

    fn qlinear_matmul(&mut self) -> Result<(), ImportError> {
        let a = self.quantized_input(0, 1, 2)?;
        // B is K x N: the output channels run along axis 1.
        let b = self.weights(3, 4, 5, 1)?;
        self.emit("MatMul", vec![a, b], 6, 7)
    }

    /// com.microsoft's QGemm: A, a_scale, a_zp, B, b_scale, b_zp, C,
    /// y_scale, y_zp (without y_scale its output is float).
    fn qgemm(&mut self) -> Result<(), ImportError> {
        if self.input(7).is_none() {
            return Err(self.err("has a float output (no y_scale); supported is a quantized output"));
        }
        let a = self.quantized_input(0, 1, 2)?;
        let trans_b = attr(self.node, "transB").is_some_and(|t| t.i != 0);
        let b = self.weights(3, 4, 5, if trans_b { 0 } else { 1 })?;
        let mut inputs = vec![a, b];
        if let Some(c) = self.bias(6, 1, 4)? {
            inputs.push(c);
        }
        self.emit("Gemm", inputs, 7, 8)
    }
}

/// Rewrites a quantized graph's `nodes` into float ones; constants (with
/// Constant nodes' values added) are dequantized in `constants`.
pub(super) fn rewrite(
    nodes: &[NodeProto],
    outputs: &[String],
    constants: &mut HashMap<String, Constant>,
    constant_value: impl Fn(&NodeProto) -> Result<Constant, ImportError>,
) -> Result<Rewritten, ImportError> {
    let empty = NodeProto::default();
    let mut r = Rewriter {
        constants,
        node: &empty,
        out: Rewritten {
            nodes: Vec::new(),
            outputs: Vec::new(),
            qparams: HashMap::new(),
            weights: HashMap::new(),
            uint8: false,
        },
        rename: HashMap::new(),
    };
    for node in nodes {
        r.node = node;
        let microsoft = node.domain == "com.microsoft";
        let standard = node.domain.is_empty() || node.domain == "ai.onnx";
        match (node.op_type.as_str(), standard, microsoft) {
            ("Constant", true, _) => {
                let value = constant_value(node)?;
                let out = node.output.first().ok_or_else(|| r.err("has no output"))?;
                r.constants.insert(out.clone(), value);
            }
            ("QuantizeLinear", _, _) if standard || microsoft => r.quantize_linear()?,
            ("DequantizeLinear", _, _) if standard || microsoft => r.dequantize_linear()?,
            ("QLinearConv", true, _) => r.qlinear_conv()?,
            ("QLinearMatMul", true, _) => r.qlinear_matmul()?,
            ("QGemm", _, true) => r.qgemm()?,
            _ => {
                let mut node = node.clone();
                for i in node.input.iter_mut() {
                    *i = r.resolve(i);
                }
                r.out.nodes.push(node);
            }
        }
    }
    r.out.outputs = outputs.iter().map(|o| r.resolve(o)).collect();
    Ok(r.out)
}
