//! Command-line interface: the subcommands and their dispatch.

use crate::arch::ArchArgs;
use crate::error::Result;
use clap::{Parser, Subcommand};

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
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Summary { arch } => crate::summary::run(&arch.spec()?),
    }
}
