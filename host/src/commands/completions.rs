//! `host completions SHELL`: the shell's completion script for `host`, on
//! stdout, generated from the same clap definitions the parser uses, so it
//! offers every subcommand and flag of this build.

use crate::error::{HostError, Result};
use clap::Args;
use clap_complete::Shell;
use std::io::Write;

#[derive(Clone, Debug, Args)]
#[command(after_help = "Examples:
  host completions bash > ~/.local/share/bash-completion/completions/host
  host completions zsh > ~/.zfunc/_host
  host completions fish > ~/.config/fish/completions/host.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the script for `cli`, the command line `host` parses.
pub fn run(args: &CompletionsArgs, mut cli: clap::Command) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "host", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(|e| HostError::Usage(format!("writing the completion script: {e}")))
}
