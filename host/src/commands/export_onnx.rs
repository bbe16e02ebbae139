//! `host export-onnx`: the float network of a checkpoint as ONNX, for
//! tract, onnxruntime or any other runtime to check the host's numbers.

use crate::error::Result;
use crate::train::checkpoint::Checkpoint;
use clap::Args;
use std::path::PathBuf;

#[derive(Clone, Debug, Args)]
pub struct ExportOnnxArgs {
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &ExportOnnxArgs) -> Result<()> {
    crate::error::check_output_file("--out", &args.out)?;
    let ckpt = Checkpoint::load(&args.checkpoint)?;
    crate::onnx::export(&ckpt.model, &args.out)?;
    println!(
        "wrote {} (opset {}, input N x {}, normalized)",
        args.out.display(),
        crate::onnx::OPSET,
        ckpt.model.spec.input
    );
    Ok(())
}
