//! `host quantize`: a training checkpoint to the int8 model file the board
//! runs (per-channel weights, activation ranges calibrated on training
//! images), then float against int8 on the test set.

use crate::args::data::{NetworkInputs, TestSetArgs};
use crate::args::values::{count, float_in, FloatRange};
use crate::data::{labels, Split};
use crate::error::{check_output_file, write_atomic, HostError, Result};
use crate::inference::{calibrate, Accuracy, HostEngine};
use crate::train::checkpoint::Checkpoint;
use crate::train::preprocess::{eval_pixels, InputGeometry};
use clap::Args;
use shared::format::AlignedBytes;
use shared::quantize::{quantize_named, RangeMethod};
use shared::Model;
use std::path::PathBuf;

#[derive(Clone, Debug, Args)]
#[command(after_help = "Examples:
  host quantize --checkpoint runs/fmnist/checkpoint.safetensors --out runs/fmnist/alexnet-int8.axq
  host quantize --checkpoint runs/fmnist/checkpoint.safetensors --out p999.axq --percentile 99.9")]
pub struct QuantizeArgs {
    /// A training checkpoint (RUN_DIR/checkpoint.safetensors).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The int8 model file to write.
    #[arg(long)]
    pub out: PathBuf,
    // The training images calibrate; float and int8 are compared on the
    // test images.
    #[command(flatten)]
    pub test: TestSetArgs,
    /// Training images used to calibrate activation ranges (spread over the
    /// set; at least 1).
    #[arg(long, default_value_t = 500, value_parser = count(1..))]
    pub calibration: usize,
    /// Use the per-image P-th percentile of |activation| instead of min/max
    /// (above 50, at most 100).
    #[arg(long, value_parser = float_in::<f32>(FloatRange::Above(50.0, 100.0)))]
    pub percentile: Option<f32>,
}

pub fn run(args: &QuantizeArgs) -> Result<()> {
    // The parser takes percentiles in (50, 100] only; checked before any
    // work for callers that build these arguments themselves.
    let method = match args.percentile {
        Some(p) if p > 50.0 && p <= 100.0 => RangeMethod::Percentile(p),
        Some(p) => return Err(HostError::Usage(format!("--percentile must be in (50, 100], got {p}"))),
        None => RangeMethod::MinMax,
    };
    check_output_file("--out", &args.out)?;
    let ckpt = Checkpoint::load(&args.checkpoint)?;
    let spec = &ckpt.model.spec;
    let input = spec.input;

    let train = args.test.data.open(Split::Train, input.c)?;
    if train.is_empty() {
        return Err(HostError::Usage(format!("{} has no images to calibrate on", train.describe())));
    }
    let n = args.calibration.clamp(1, train.len());
    let fixed = train.image_shape().is_some();
    let mut calibration_images = Vec::with_capacity(n);
    for k in 0..n {
        let i = k * train.len() / n;
        if let Ok(img) = train.image(i) {
            calibration_images.push(eval_pixels(&img, InputGeometry::of(spec), fixed));
        }
    }
    if calibration_images.is_empty() {
        return Err(HostError::Usage(format!(
            "none of the {n} calibration images of {} could be decoded",
            train.describe()
        )));
    }
    println!("calibrating on {} training images ({method:?})", calibration_images.len());
    let cal = calibrate::collect(&ckpt.model, &calibration_images, method);
    let bytes = quantize_named(&ckpt.model, &cal, Some(&ckpt.classes))?;
    write_atomic(&args.out, &bytes)?;
    let aligned = AlignedBytes::new(&bytes);
    let model = Model::parse(&aligned).map_err(|source| HostError::Model { path: args.out.clone(), source })?;
    println!("wrote {} ({} bytes, crc32 {:#010x})", args.out.display(), bytes.len(), model.checksum());
    let names = labels::sidecar_path(&args.out);
    labels::write(&names, &ckpt.classes)?;
    println!("wrote {} (class names for `host predict`)", names.display());

    // Float and int8 on the same network-size test images.
    let NetworkInputs { images, labels, .. } = args.test.network_inputs(spec)?;
    let int8 = HostEngine::Int8(&model).run(&images)?.top5;
    let float = HostEngine::Float(&ckpt.model).run(&images)?.top5;
    let (mut acc_f, mut acc_q, mut same_top1) = (Accuracy::default(), Accuracy::default(), 0);
    for ((f, q), &label) in float.iter().zip(&int8).zip(&labels) {
        acc_f.add(label, f);
        acc_q.add(label, q);
        same_top1 += (f[0] == q[0]) as usize;
    }
    println!(
        "test set ({} images): float top-1 {:.2}% top-5 {:.2}% | int8 top-1 {:.2}% top-5 {:.2}% | same top-1 on {:.2}%",
        images.len(),
        acc_f.top1_pct(),
        acc_f.top5_pct(),
        acc_q.top1_pct(),
        acc_q.top5_pct(),
        100.0 * same_top1 as f64 / images.len().max(1) as f64
    );
    Ok(())
}
