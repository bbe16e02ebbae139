//! `host random-model`: an int8 model with seeded random (He-normal) weights,
//! calibrated on seeded synthetic images (`shared::synthetic`). For
//! exercising boards and kernels at any size (the 61 MB paper network
//! included) before, or without, a trained checkpoint; the same seed gives
//! the same file on every machine.

use crate::args::arch::ArchArgs;
use crate::args::values::count;
use crate::error::{write_atomic, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Clone, Debug, Args)]
pub struct RandomModelArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Synthetic images used to calibrate activation ranges (1 to 1,000).
    #[arg(long, default_value_t = 4, value_parser = count(1..=1000))]
    pub calibration_images: usize,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &RandomModelArgs) -> Result<()> {
    crate::error::check_output_file("--out", &args.out)?;
    let spec = args.arch.spec()?;
    let (_, bytes) = shared::synthetic::random_model(&spec, args.seed, args.calibration_images)?;
    write_atomic(&args.out, &bytes)?;
    println!(
        "wrote {} ({} bytes, {} parameters, seed {}, crc32 {:#010x})",
        args.out.display(),
        bytes.len(),
        spec.param_count(),
        args.seed,
        // Cannot fail: the file is our quantizer's, which ends with its CRC.
        u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().expect("4 bytes"))
    );
    Ok(())
}
