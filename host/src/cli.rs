//! Command-line interface: the subcommands and their dispatch. Each
//! command's arguments and handler live in `commands/`.

use crate::commands::*;
use crate::error::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "host",
    version,
    about = "AlexNet from training to a bare-metal board",
    after_help = "Exit status:
  0  success
  1  an error: one `error:` line on stderr
  2  a usage error: clap's message and a hint
  3  host compare: the board differs from host int8
See docs/cli.md for completions, man pages and JSON output."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a network's layers, shapes, parameters, MACs and memory plan.
    Summary(summary::SummaryArgs),
    /// Write an int8 model with seeded random weights (board and kernel checks
    /// at any size, the paper network included).
    RandomModel(random_model::RandomModelArgs),
    /// Train AlexNet (dfdx; CPU, or CUDA in a `--features cuda` build).
    Train(Box<train::TrainArgs>),
    /// Training-step speed of this build against dfdx's released CPU kernels.
    BenchTrain(bench_train::BenchTrainArgs),
    /// Inference speed of every engine (host int8, float, tract) in one run,
    /// and the virtual board's instructions per layer.
    BenchInfer(bench_infer::BenchInferArgs),
    /// Top-1 and top-5 error of a training checkpoint on the test set.
    Eval(eval::EvalArgs),
    /// Top-5 classes with names and scores for image files (float or int8).
    Predict(predict::PredictArgs),
    /// Write the float network of a checkpoint as ONNX (tract, onnxruntime, ...).
    ExportOnnx(export_onnx::ExportOnnxArgs),
    /// Bring a network trained elsewhere (ONNX, or a PyTorch state_dict as
    /// safetensors) in as a checkpoint.
    Import(Box<import::ImportArgs>),
    /// Quantize a checkpoint to the int8 model file the board runs.
    Quantize(quantize::QuantizeArgs),
    /// Send test images to the board (virtual or serial) and record its answers.
    Run(run::RunArgs),
    /// Be a board: answer a host's requests on stdin/stdout (over ssh from
    /// a workstation, or from `host run --board-command`).
    Serve(serve::ServeArgs),
    /// Device answers against host int8 (must be bit-identical), with accuracies.
    Compare(compare::CompareArgs),
    /// Show what an int8 model file holds: spec, quantization, memory plan, checksum.
    Info(info::InfoArgs),
    /// Build the boot image for a board with MODEL appended: the virtual
    /// board's image, or kernel8.img and config.txt for a Pi's SD card.
    Flash(flash::FlashArgs),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Write man pages: host.1 and one host-SUBCOMMAND.1 per subcommand.
    Man(man::ManArgs),
}

/// The command line as `host` parses it: the definitions above, with a
/// negative number taken as a flag's value, so that `--lr -1` is refused by
/// --lr's own check, which names the flag, instead of being read as an
/// unknown option `-1`.
pub fn command() -> clap::Command {
    Cli::command().mut_subcommands(|sub| {
        sub.mut_args(|arg| if arg.get_action().takes_values() { arg.allow_negative_numbers(true) } else { arg })
    })
}

/// Parses the process's arguments with [`command`]; a usage error exits
/// as clap's do (status 2, the message and a hint).
pub fn parse() -> Cli {
    Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit())
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Summary(args) => summary::run(&args),
        Command::RandomModel(args) => random_model::run(&args),
        Command::Train(args) => train::run(&args),
        Command::BenchTrain(args) => bench_train::run(&args),
        Command::BenchInfer(args) => bench_infer::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Predict(args) => predict::run(&args),
        Command::ExportOnnx(args) => export_onnx::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Quantize(args) => quantize::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Flash(args) => flash::run(&args),
        Command::Completions(args) => completions::run(&args, command()),
        Command::Man(args) => man::run(&args, command()),
    }
}
