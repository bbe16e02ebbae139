//! `host export-onnx`: the float network as a standard ONNX graph (Conv with
//! groups, LRN, MaxPool, Flatten, Gemm, Relu; dropout is an identity at
//! inference and is left out), so tract and any other ONNX runtime can check
//! the host's numbers. Written with our own prost types for ONNX's schema; no Python, no tract.
//!
//! The graph takes the normalized input `(pixel - mean) / std` (the values
//! are in the model's metadata) as `input`, N x C x H x W, and returns
//! `logits`, N x classes.

use crate::error::{write_atomic, Result};
use prost::Message;
use proto::{
    attribute_type, data_type, AttributeProto, Dimension, DimensionValue, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TensorType, TypeProto, TypeValue,
    ValueInfoProto,
};
use shared::float::FloatModel;
use shared::layers::pool::avg_pool_matrix;
use shared::spec::{AvgPoolSpec, Layer, LayerInfo, Shape};
use std::path::Path;

pub mod proto;

/// Opset 13: every operator used here has its current form there.
pub const OPSET: i64 = 13;

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::INTS, ints: values.to_vec(), ..Default::default() }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::INT, i: value, ..Default::default() }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::FLOAT, f: value, ..Default::default() }
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

fn initializer(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: data_type::FLOAT,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[Option<usize>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(n) => DimensionValue::DimValue(*n as i64),
                None => DimensionValue::DimParam("batch".into()),
            }),
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(TensorType {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto { dim }),
            })),
        }),
    }
}

/// Adaptive average pooling in ONNX: one AveragePool where every window has
/// the same size and none overlap, else a product with the matrix of window
/// weights over the flattened map (exact, and any runtime runs MatMul).
fn average_pool(
    name: &str,
    input: Shape,
    a: AvgPoolSpec,
    current: &mut String,
    nodes: &mut Vec<NodeProto>,
    inits: &mut Vec<TensorProto>,
) {
    let (kh, kw) = (input.h / a.out_h, input.w / a.out_w);
    if input.h == kh * a.out_h && input.w == kw * a.out_w {
        let (kh, kw) = (kh as i64, kw as i64);
        let attrs = vec![ints("kernel_shape", &[kh, kw]), ints("strides", &[kh, kw]), ints("pads", &[0, 0, 0, 0])];
        nodes.push(node("AveragePool", name, &[current], name, attrs));
        *current = name.to_string();
        return;
    }
    let (cells_in, cells_out) = ((input.h * input.w) as usize, (a.out_h * a.out_w) as usize);
    let mut weights = vec![0.0f32; cells_in * cells_out];
    avg_pool_matrix(&a, input, &mut weights);
    let shape = |n: &str, dims: &[i64]| TensorProto {
        name: n.into(),
        dims: vec![dims.len() as i64],
        data_type: data_type::INT64,
        raw_data: dims.iter().flat_map(|d| d.to_le_bytes()).collect(),
        ..Default::default()
    };
    let (c, oh, ow) = (input.c as i64, a.out_h as i64, a.out_w as i64);
    let names = [".flat_shape", ".flat", ".weights", ".sum", ".shape"].map(|s| format!("{name}{s}"));
    inits.push(shape(&names[0], &[0, c, cells_in as i64]));
    inits.push(initializer(&names[2], &[cells_in, cells_out], &weights));
    inits.push(shape(&names[4], &[0, c, oh, ow]));
    nodes.push(node("Reshape", &names[1], &[current, &names[0]], &names[1], vec![]));
    nodes.push(node("MatMul", &names[3], &[&names[1], &names[2]], &names[3], vec![]));
    nodes.push(node("Reshape", name, &[&names[3], &names[4]], name, vec![]));
    *current = name.to_string();
}

/// The ONNX graph of `model`.
pub fn to_onnx(model: &FloatModel) -> ModelProto {
    let spec = &model.spec;
    let mut nodes = Vec::new();
    let mut inits = Vec::new();
    let mut current = "input".to_string();
    let mut flat = false;
    for (info, params) in spec.walk().zip(&model.layers) {
        let LayerInfo { name, layer, input, .. } = info;
        let name = name.to_string();
        let out = |suffix: &str| format!("{name}{suffix}");
        match layer {
            Layer::Conv(c) => {
                let (w, b) = (out(".weight"), out(".bias"));
                let dims =
                    [c.out_channels as usize, (input.c / c.groups) as usize, c.kernel as usize, c.kernel as usize];
                inits.push(initializer(&w, &dims, &params.weights));
                inits.push(initializer(&b, &[c.out_channels as usize], &params.bias));
                let (k, s, p) = (c.kernel as i64, c.stride as i64, c.padding as i64);
                let attrs = vec![
                    ints("kernel_shape", &[k, k]),
                    ints("strides", &[s, s]),
                    ints("pads", &[p, p, p, p]),
                    ints("dilations", &[1, 1]),
                    int("group", c.groups as i64),
                ];
                nodes.push(node("Conv", &name, &[&current, &w, &b], &out(""), attrs));
                current = out("");
                if c.relu {
                    nodes.push(node("Relu", &out(".relu"), &[&current], &out(".relu"), vec![]));
                    current = out(".relu");
                }
            }
            Layer::Lrn(l) => {
                // ONNX divides alpha by size; the spec (like the paper) does not.
                let attrs = vec![
                    int("size", l.size as i64),
                    float("alpha", l.alpha * l.size as f32),
                    float("beta", l.beta),
                    float("bias", l.k),
                ];
                nodes.push(node("LRN", &name, &[&current], &out(""), attrs));
                current = out("");
            }
            Layer::MaxPool(p) => {
                // ONNX's pads order is the spec's; ceil mode is in them.
                let (k, s) = (p.kernel as i64, p.stride as i64);
                let pads = p.pads.map(i64::from);
                let attrs = vec![ints("kernel_shape", &[k, k]), ints("strides", &[s, s]), ints("pads", &pads)];
                nodes.push(node("MaxPool", &name, &[&current], &out(""), attrs));
                current = out("");
            }
            Layer::AvgPool(a) => {
                average_pool(&name, input, a, &mut current, &mut nodes, &mut inits);
            }
            Layer::Dense(d) => {
                if !flat {
                    nodes.push(node("Flatten", "flatten", &[&current], "flatten", vec![int("axis", 1)]));
                    current = "flatten".into();
                    flat = true;
                }
                let (w, b) = (out(".weight"), out(".bias"));
                inits.push(initializer(&w, &[d.out_features as usize, input.len()], &params.weights));
                inits.push(initializer(&b, &[d.out_features as usize], &params.bias));
                nodes.push(node("Gemm", &name, &[&current, &w, &b], &out(""), vec![int("transB", 1)]));
                current = out("");
                if d.relu {
                    nodes.push(node("Relu", &out(".relu"), &[&current], &out(".relu"), vec![]));
                    current = out(".relu");
                }
            }
        }
    }
    // The last node's output is the graph's output, named `logits`.
    if let Some(last) = nodes.last_mut() {
        last.output = vec!["logits".into()];
    }
    let input = spec.input;
    let norm = spec.normalize;
    let c = input.c as usize;
    let meta = |k: &str, v: String| StringStringEntryProto { key: k.into(), value: v };
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "alexnet-edge host".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "AlexNet (Krizhevsky et al. 2012) layer pattern; input is (pixel - mean) / std".into(),
        metadata_props: vec![
            meta("normalize_mean", format!("{:?}", &norm.mean[..c])),
            meta("normalize_std", format!("{:?}", &norm.std[..c])),
        ],
        graph: Some(GraphProto {
            name: "alexnet".into(),
            node: nodes,
            initializer: inits,
            input: vec![value_info("input", &[None, Some(c), Some(input.h as usize), Some(input.w as usize)])],
            output: vec![value_info("logits", &[None, Some(spec.classes() as usize)])],
        }),
    }
}

pub fn export(model: &FloatModel, out: &Path) -> Result<()> {
    write_atomic(out, &to_onnx(model).encode_to_vec())
}
