//! `host summary`: the spec as a table, with the int8 memory plan.

use crate::args::arch::ArchArgs;
use crate::error::Result;
use crate::spec_table::print_spec;
use clap::Args;
use shared::MemoryPlan;

#[derive(Clone, Debug, Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
}

pub fn run(args: &SummaryArgs) -> Result<()> {
    let spec = args.arch.spec()?;
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
