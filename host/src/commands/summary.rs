//! `host summary`: the spec as a table, with the int8 memory plan; of an
//! `--arch`, or of a checkpoint's network (one trained, or imported).

use crate::args::arch::ArchArgs;
use crate::error::Result;
use crate::spec_table::print_spec;
use crate::train::checkpoint::Checkpoint;
use clap::Args;
use shared::MemoryPlan;
use std::path::PathBuf;

#[derive(Clone, Debug, Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    /// A checkpoint (from `host train` or `host import`) whose network to
    /// show instead of an `--arch`.
    #[arg(long, conflicts_with_all = ["arch", "input", "classes", "width"])]
    pub checkpoint: Option<PathBuf>,
}

pub fn run(args: &SummaryArgs) -> Result<()> {
    let spec = match &args.checkpoint {
        Some(path) => Checkpoint::load(path)?.model.spec,
        None => args.arch.spec()?,
    };
    print_spec(&spec);
    let plan = MemoryPlan::new(&spec)?;
    println!(
        "int8 memory plan: activations {} B + scratch {} B = {} B",
        plan.arena_len,
        plan.scratch_len,
        plan.total_len()
    );
    Ok(())
}
