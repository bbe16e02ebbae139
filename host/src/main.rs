//! `host`: the workstation side of the project. Each subcommand lives in its
//! own module of the `host` library; errors surface as one line on stderr and
//! a non-zero exit.

use clap::Parser;

fn main() {
    let cli = host::cli::Cli::parse();
    if let Err(e) = host::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
