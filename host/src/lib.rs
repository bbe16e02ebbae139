//! The workstation side of the project as a library: the `host` binary is a
//! thin wrapper over [`cli`], and the end-to-end tests in `tests/` drive the
//! same modules (board link, QEMU, quantization) directly.
//!
//! - `commands`: one module per subcommand (arguments and handler);
//! - `args`: argument groups the commands share;
//! - `inference`: the host's float, int8 and tract engines behind one interface;
//! - `board`: the serial link, QEMU, firmware images and board sessions;
//! - `data`: datasets (IDX, CIFAR, image folders), loading, class names;
//! - `train`: training on dfdx; `onnx`: the ONNX export; `openblas`: which
//!   kernels the system OpenBLAS runs (the `openblas` feature);
//! - `error`, `progress`, `malloc`, `process_stats`, `spec_table`: small
//!   shared pieces.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod args;
pub mod board;
pub mod cli;
pub mod commands;
pub mod data;
pub mod error;
pub mod import;
pub mod inference;
pub mod malloc;
pub mod onnx;
#[cfg(feature = "openblas")]
pub mod openblas;
pub mod process_stats;
pub mod progress;
pub mod spec_table;
pub mod steady;
pub mod train;
