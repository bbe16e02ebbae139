//! `host`: the workstation side of the project. Each subcommand lives in its
//! own module of the `host` library; errors surface as one line on stderr and
//! a non-zero exit.

use clap::Parser;

fn main() {
    host::malloc::keep_freed_memory();
    let cli = host::cli::Cli::parse();
    if let Err(e) = host::cli::run(cli) {
        // One line whatever the source: some decoders end messages with a newline.
        let message = e.to_string();
        let parts: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        eprintln!("error: {}", parts.join("; "));
        std::process::exit(1);
    }
}
