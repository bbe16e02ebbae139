//! The subcommands of `host`, one file each: its clap arguments beside its
//! handler. A command calls the library modules (`inference`, `board`,
//! `data`, `train`, `onnx`, `args`), never another command. The two that
//! describe the command line itself (`completions`, `man`) are handed it by
//! `cli`, rather than importing it.

pub mod bench_infer;
pub mod bench_train;
pub mod compare;
pub mod completions;
pub mod eval;
pub mod export_onnx;
pub mod flash;
pub mod import;
pub mod info;
pub mod man;
pub mod predict;
pub mod quantize;
pub mod random_model;
pub mod run;
pub mod serve;
pub mod summary;
pub mod train;
