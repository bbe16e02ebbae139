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

pub mod error;
pub mod onnx_graph;
pub mod state_dict;

pub use error::{ImportError, SUPPORTED};
