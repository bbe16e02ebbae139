//! Why a file cannot become a checkpoint ([`ImportError`]), and the list of
//! what the ONNX importer runs ([`SUPPORTED`]) that the error names. Both
//! importers (`onnx_graph`, `state_dict`) and the host's `HostError` take
//! them from here.

use thiserror::Error;

/// Operators this importer runs, for the error that names the others.
pub const SUPPORTED: [&str; 24] = [
    "Conv",
    "Relu",
    "LRN",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "BatchNormalization",
    "Flatten",
    "Reshape",
    "Gemm",
    "MatMul",
    "Add",
    "Dropout",
    "Identity",
    "Constant",
    "ConstantOfShape",
    "Softmax (last)",
    "LogSoftmax (last)",
    "opset 7-23",
    "float32 weights",
    "QuantizeLinear/DequantizeLinear (int8 or uint8 activations per tensor, symmetric int8 weights)",
    "QLinearConv",
    "QLinearMatMul",
    "com.microsoft:QGemm",
];

/// Why a file cannot become a checkpoint. Messages name the node (ONNX) or
/// the tensor (state_dict) at fault.
#[derive(Debug, Error, PartialEq)]
pub enum ImportError {
    #[error("not an ONNX model ({0})")]
    NotOnnx(String),
    #[error("opset {found} of the standard domain; this importer reads opsets 7 to 23")]
    Opset { found: i64 },
    #[error("the graph has no input of shape N x C x H x W with known C, H and W ({0})")]
    Input(String),
    #[error(
        "node '{node}': operator {op} is not supported; supported are {}",
        SUPPORTED.join(", ")
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
