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
    /// Show what an int8 model file holds: spec, quantization, memory plan, checksum.
    Info {
        /// The model file.
        model: PathBuf,
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
    },
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Summary { arch } => crate::summary::run(&arch.spec()?),
        Command::RandomModel { arch, seed, calibration_images, out } => {
            crate::random_model::run(&arch.spec()?, seed, calibration_images, &out)
        }
        Command::Info { model } => crate::info::run(&model),
        Command::Flash { model, board, out } => crate::flash::run(&model, board, out.as_deref()).map(|_| ()),
    }
}
