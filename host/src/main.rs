//! `host`: the workstation side of the project. Each subcommand lives in its
//! own module; errors surface as one line on stderr and a non-zero exit.

mod arch;
mod cli;
mod error;
mod summary;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    if let Err(e) = cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
