//! `host import`: networks trained elsewhere (PyTorch, torchvision, any
//! exporter of ONNX) as this project's float checkpoint, so `quantize`,
//! `eval`, `predict`, `export-onnx` and the board take them as they take one
//! from `host train`.
//!
//! Two sources: an ONNX graph, from which the spec is inferred node by node
//! ([`onnx_graph`]), and a PyTorch state_dict saved as safetensors, whose
//! spec comes from `--arch` ([`state_dict`]). Either way every shape is
//! checked, and whatever cannot be run exactly is an error that names where
//! it is; nothing is skipped.

pub mod onnx_graph;
pub mod state_dict;

use thiserror::Error;

/// Why a file cannot become a checkpoint. Messages name the node (ONNX) or
/// the tensor (state_dict) at fault.
#[derive(Debug, Error, PartialEq)]
pub enum ImportError {
    #[error("not an ONNX model ({0})")]
    NotOnnx(String),
    #[error("opset {found} of the standard domain; this importer reads opsets 11 to 18")]
    Opset { found: i64 },
    #[error("the graph has no input of shape N x C x H x W with known C, H and W ({0})")]
    Input(String),
    #[error(
        "node '{node}': operator {op} is not supported; supported are {}",
        onnx_graph::SUPPORTED.join(", ")
    )]
    Unsupported { node: String, op: String },
    #[error("node '{node}' ({op}): {reason}")]
    Node { node: String, op: String, reason: String },
    #[error("tensor '{name}': {reason}")]
    Tensor { name: String, reason: String },
    #[error("{0}")]
    Graph(String),
    #[error("invalid network: {0}")]
    Spec(#[from] shared::spec::SpecError),
}
