//! The host's inference: the float network (dfdx), the int8 model (shared's
//! kernels, the board's code) and tract on the exported ONNX graph, behind
//! one interface ([`engine::HostEngine`]) that `eval`, `predict`, `compare`,
//! `quantize`'s check and `bench-infer` call; accuracy counting,
//! calibration on the float engine, and one image's layers split over the
//! cores (`layer_split`).

pub mod accuracy;
pub mod calibrate;
pub mod engine;
pub mod float;
pub mod int8;
pub mod layer_split;
#[cfg(feature = "tract")]
pub mod tract;

pub use accuracy::Accuracy;
pub use engine::{top5, EngineRun, HostEngine};
