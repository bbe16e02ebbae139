//! The workstation side of the project as a library: the `host` binary is a
//! thin wrapper over [`cli`], and the end-to-end tests in `tests/` drive the
//! same modules (board link, QEMU, quantization) directly.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod arch;
pub mod bench_infer;
pub mod board;
pub mod board_cmds;
pub mod calibrate;
pub mod cli;
pub mod compare;
pub mod data;
pub mod data_args;
pub mod engines;
pub mod error;
pub mod flash;
pub mod inference;
pub mod info;
pub mod labels;
pub mod malloc;
pub mod onnx;
pub mod predict;
pub mod progress;
pub mod quantize_cmd;
pub mod random_model;
pub mod run;
pub mod summary;
pub mod train;
