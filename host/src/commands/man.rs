//! `host man --out DIR`: man pages in roff, generated from the same clap
//! definitions the parser uses: `host.1` and one `host-SUBCOMMAND.1` per
//! subcommand.

use crate::error::{check_output_dir, write_atomic, HostError, Result};
use clap::Args;
use clap_mangen::Man;
use std::path::PathBuf;

#[derive(Clone, Debug, Args)]
#[command(after_help = "Examples:
  host man --out man/man1 && man -l man/man1/host-run.1
  host man --out ~/.local/share/man/man1")]
pub struct ManArgs {
    /// Directory for the pages (made if missing; pages of the same names are replaced).
    #[arg(long, value_hint = clap::ValueHint::DirPath)]
    pub out: PathBuf,
}

/// Writes the pages of `cli`, the command line `host` parses.
pub fn run(args: &ManArgs, cli: clap::Command) -> Result<()> {
    check_output_dir("--out", &args.out)?;
    // Built, each subcommand's name on its page is `host-NAME`, as `man` looks it up.
    let mut cli = cli.disable_help_subcommand(true);
    cli.build();
    let pages = std::iter::once(cli.clone()).chain(cli.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    for cmd in pages {
        // Every page names the program and its version, not the subcommand's.
        let man = Man::new(cmd).source(format!("host {}", env!("CARGO_PKG_VERSION")));
        let mut roff = Vec::new();
        man.render(&mut roff).map_err(|e| HostError::Usage(format!("rendering {}: {e}", man.get_filename())))?;
        let path = args.out.join(man.get_filename());
        write_atomic(&path, &roff)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
