//! Command-line interface: the subcommands and their dispatch.

use crate::arch::ArchArgs;
use crate::board::firmware_image::BoardKind;
use crate::error::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "host", version, about = "AlexNet from training to a bare-metal board")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a network's layers, shapes, parameters, MACs and memory plan.
    Summary {
        #[command(flatten)]
        arch: ArchArgs,
    },
    /// Write an int8 model with seeded random weights (board and kernel checks
    /// at any size, the paper network included).
    RandomModel {
        #[command(flatten)]
        arch: ArchArgs,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Synthetic images used to calibrate activation ranges.
        #[arg(long, default_value_t = 4)]
        calibration_images: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Train AlexNet (dfdx; CPU, or CUDA in a `--features cuda` build).
    Train(Box<crate::train::command::TrainArgs>),
    /// Training-step speed of this build against dfdx's released CPU kernels.
    BenchTrain {
        #[command(flatten)]
        arch: ArchArgs,
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Timed steps with this build's kernels.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Timed steps with the released kernels (0 = skip; they are slow).
        #[arg(long, default_value_t = 2)]
        released_steps: usize,
    },
    /// Inference speed of every engine (host int8, float, tract) in one run,
    /// and the virtual board's instructions per layer.
    BenchInfer(crate::bench_infer::BenchInferArgs),
    /// Top-1 and top-5 error of a training checkpoint on the test set.
    Eval(crate::engines::EvalArgs),
    /// Top-5 classes with names and scores for image files (float or int8).
    Predict(crate::predict::PredictArgs),
    /// Write the float network of a checkpoint as ONNX (tract, onnxruntime, ...).
    ExportOnnx {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Quantize a checkpoint to the int8 model file the board runs.
    Quantize(crate::quantize_cmd::QuantizeArgs),
    /// Send test images to the board (virtual or serial) and record its answers.
    Run(crate::board_cmds::RunArgs),
    /// Device answers against host int8 (must be bit-identical), with accuracies.
    Compare(crate::board_cmds::CompareArgs),
    /// Show what an int8 model file holds: spec, quantization, memory plan, checksum.
    Info {
        /// The int8 model file.
        #[arg(long, required_unless_present = "bare_model")]
        model: Option<PathBuf>,
        /// The model as a bare argument: the older spelling, still accepted.
        #[arg(hide = true, conflicts_with = "model")]
        bare_model: Option<PathBuf>,
    },
    /// Build the boot image for a board with MODEL appended: the virtual
    /// board's image, or kernel8.img and config.txt for a Pi's SD card.
    Flash {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, value_enum, default_value_t = BoardKind::Qemu)]
        board: BoardKind,
        /// Directory for the boot files (default: next to the model).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Serial rate the board's UART runs at; `host run --baud` must match.
        /// Up to 3,000,000 where the USB-serial adapter allows.
        #[arg(long, default_value_t = shared::settings::FLASH_BAUD)]
        baud: u32,
    },
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Summary { arch } => crate::summary::run(&arch.spec()?),
        Command::RandomModel { arch, seed, calibration_images, out } => {
            crate::random_model::run(&arch.spec()?, seed, calibration_images, &out)
        }
        Command::Train(args) => crate::train::command::run_train(&args),
        Command::BenchTrain { arch, batch, steps, released_steps } => {
            crate::train::bench::run(&arch.spec()?, batch, steps.max(1), released_steps)
        }
        Command::BenchInfer(args) => crate::bench_infer::run(&args),
        Command::Eval(args) => crate::engines::run(&args),
        Command::Predict(args) => crate::predict::run(&args),
        Command::ExportOnnx { checkpoint, out } => {
            let ckpt = crate::train::checkpoint::Checkpoint::load(&checkpoint)?;
            crate::onnx::export(&ckpt.model, &out)?;
            println!(
                "wrote {} (opset {}, input N x {}, normalized)",
                out.display(),
                crate::onnx::OPSET,
                ckpt.model.spec.input
            );
            Ok(())
        }
        Command::Quantize(args) => crate::quantize_cmd::run(&args),
        Command::Run(args) => crate::board_cmds::run(&args),
        Command::Compare(args) => crate::board_cmds::run_compare(&args),
        Command::Info { model, bare_model } => {
            crate::info::run(&model.or(bare_model).expect("clap requires --model or the bare form"))
        }
        Command::Flash { model, board, out, baud } => {
            crate::flash::run(&model, board, out.as_deref(), baud).map(|_| ())
        }
    }
}
