//! `host compare`: the device's answers against the host's int8 inference on
//! the same images (they must be bit-identical), with the accuracy of every
//! engine and the device's own time per image (cycles on a real board,
//! emulated time or instructions on a virtual one), printed (a table, or
//! with `--json` one JSON document) and written as CSV and JSON.

use crate::args::data::DataArgs;
use crate::board::session::{default_report, read_report, DeviceClock, RunReport, TestImage};
use crate::error::{HostError, Result};
use crate::inference::int8::{int8_predictions, load_model};
use crate::inference::{Accuracy, HostEngine};
use crate::train::checkpoint::Checkpoint;
use clap::Args;
use serde::Serialize;
use shared::format::AlignedBytes;
use shared::image::resize_bilinear;
use shared::Model;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub images: usize,
    /// Images whose device top-5 (classes and int8 logits) equals the host's.
    pub bit_exact: usize,
    /// Indices of the images that differ.
    pub mismatches: Vec<usize>,
    pub host_float: Option<Accuracy>,
    pub host_int8: Accuracy,
    pub device: Accuracy,
    pub mean_cycles: f64,
    /// What `mean_cycles` counts.
    pub clock: DeviceClock,
    /// Images the board ran together (`host run --batch`); `mean_cycles`
    /// is then each image's share of its batch.
    pub batch: usize,
    /// With `host run --layers`: the mean of each stage (the input's
    /// preparation, then each layer by name), in the same clock.
    pub mean_layers: Option<Vec<(String, f64)>>,
}

/// `host compare --json` and compare.json: the comparison with the board
/// that answered (from the run's report).
#[derive(Clone, Debug, Serialize)]
pub struct CompareDocument<'a> {
    /// The board as it named itself to `host run`.
    pub board: &'a str,
    /// The firmware's version as the board reported it.
    pub firmware: &'a str,
    #[serde(flatten)]
    pub comparison: &'a Comparison,
}

impl<'a> CompareDocument<'a> {
    pub fn new(comparison: &'a Comparison, report: &'a RunReport) -> Self {
        CompareDocument { board: &report.board, firmware: &report.firmware, comparison }
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| HostError::Usage(format!("compare as JSON: {e}")))
    }
}

/// Resizes each image to the network input once (as the device does).
pub fn network_input(model: &Model, image: &TestImage) -> Vec<u8> {
    let mut resized = vec![0u8; model.spec().input.len()];
    resize_bilinear(&image.pixels, image.shape, &mut resized, model.spec().input);
    resized
}

/// `float_top5`, when given, holds the float network's top-5 for each image
/// of the report, in report order.
pub fn compare(
    model_bytes: &AlignedBytes,
    float_top5: Option<&[Vec<usize>]>,
    report: &RunReport,
    images: &[TestImage],
) -> Result<Comparison> {
    if report.images.len() > images.len() {
        return Err(HostError::Usage(format!(
            "the run report has {} images but only {} test images were loaded (same --data and --limit as the run?)",
            report.images.len(),
            images.len()
        )));
    }
    let model = Model::parse(model_bytes).map_err(|e| HostError::Usage(format!("model: {e}")))?;
    if model.checksum() != report.model_checksum {
        return Err(HostError::Usage(format!(
            "the run used model crc32 {:#010x}, this model is {:#010x}",
            report.model_checksum,
            model.checksum()
        )));
    }
    let mut cmp = Comparison {
        images: report.images.len(),
        bit_exact: 0,
        mismatches: Vec::new(),
        host_float: float_top5.map(|_| Accuracy::default()),
        host_int8: Accuracy::default(),
        device: Accuracy::default(),
        mean_cycles: 0.0,
        clock: report.clock,
        batch: report.batch,
        mean_layers: mean_layers(&model, report),
    };
    let mut inputs = Vec::with_capacity(report.images.len());
    for rec in &report.images {
        // The report is a file a user may have edited or mixed up.
        let image = images.get(rec.index).ok_or_else(|| {
            HostError::Usage(format!(
                "the run report answers image {} but only {} test images were loaded (same --data as the run?)",
                rec.index,
                images.len()
            ))
        })?;
        if image.label != rec.label {
            return Err(HostError::Usage(format!(
                "image {}: label differs from the run's: different data?",
                rec.index
            )));
        }
        inputs.push(network_input(&model, image));
    }
    if let Some(f) = float_top5.filter(|f| f.len() != report.images.len()) {
        return Err(HostError::Usage(format!(
            "the float network answered {} images, the run report holds {}",
            f.len(),
            report.images.len()
        )));
    }
    let host_top5 = int8_predictions(&model, &inputs, "host int8")?;
    for (k, (rec, host)) in report.images.iter().zip(&host_top5).enumerate() {
        // Cannot fail: every index was checked against `images` above.
        let image = &images[rec.index];
        let host_pairs: Vec<(u16, i8)> = host.iter().map(|p| (p.class, p.logit)).collect();
        if host_pairs == rec.top5 {
            cmp.bit_exact += 1;
        } else {
            cmp.mismatches.push(rec.index);
        }
        cmp.host_int8.add(image.label, &host.iter().map(|p| p.class as usize).collect::<Vec<_>>());
        cmp.device.add(image.label, &rec.top5.iter().map(|p| p.0 as usize).collect::<Vec<_>>());
        if let (Some(f), Some(acc)) = (float_top5, cmp.host_float.as_mut()) {
            // Cannot fail: its length was checked against the report's above.
            acc.add(image.label, &f[k]);
        }
        cmp.mean_cycles += rec.cycles as f64 / report.images.len().max(1) as f64;
    }
    Ok(cmp)
}

/// Each stage's mean over the report's images, where every image has its
/// stages (`host run --layers`) and they match the model's layers.
fn mean_layers(model: &Model, report: &RunReport) -> Option<Vec<(String, f64)>> {
    let names: Vec<String> =
        std::iter::once("input".to_string()).chain(model.spec().walk().map(|l| l.name.to_string())).collect();
    let n = report.images.len();
    let per_image: Vec<&Vec<u64>> = report.images.iter().map(|r| r.layers.as_ref()).collect::<Option<_>>()?;
    if n == 0 || per_image.iter().any(|l| l.len() != names.len()) {
        return None;
    }
    let mean = |k: usize| per_image.iter().map(|l| l[k] as f64).sum::<f64>() / n as f64;
    Some(names.into_iter().enumerate().map(|(k, name)| (name, mean(k))).collect())
}

/// The comparison as a table for the terminal.
pub fn table(cmp: &Comparison) -> String {
    let mut s = String::new();
    let pct = 100.0 * cmp.bit_exact as f64 / cmp.images.max(1) as f64;
    let _ = writeln!(s, "images compared           {}", cmp.images);
    let _ = writeln!(s, "device == host int8       {}/{} ({pct:.2}% bit-exact)", cmp.bit_exact, cmp.images);
    let _ = writeln!(s, "{:<25} {:>8} {:>8}", "engine", "top-1", "top-5");
    let mut row = |name: &str, a: &Accuracy| {
        let _ = writeln!(s, "{name:<25} {:>7.2}% {:>7.2}%", a.top1_pct(), a.top5_pct());
    };
    if let Some(f) = &cmp.host_float {
        row("host float", f);
    }
    row("host int8", &cmp.host_int8);
    row("device int8", &cmp.device);
    let batch = match cmp.batch {
        1 => String::new(),
        n => format!(" (run {n} at a time: each image's share of its batch)"),
    };
    let _ = writeln!(s, "device {}: {:.0}{batch}", cmp.clock.per_image(), cmp.mean_cycles);
    if let Some(layers) = &cmp.mean_layers {
        let _ = writeln!(s, "device by stage (mean, same clock):");
        for (name, mean) in layers {
            let share = 100.0 * mean / cmp.mean_cycles.max(1.0);
            let _ = writeln!(s, "  {name:<8} {mean:>14.0} {share:>6.1}%");
        }
    }
    if !cmp.mismatches.is_empty() {
        let first: Vec<String> = cmp.mismatches.iter().take(10).map(|i| i.to_string()).collect();
        let _ = writeln!(s, "MISMATCHED images (first 10): {}", first.join(", "));
    }
    s
}

/// Per-image CSV: index, label, device top-5, host top-5 match, cycles.
pub fn write_outputs(dir: &Path, cmp: &Comparison, report: &RunReport) -> Result<()> {
    let mut csv = String::from("index,label,device_top1,device_top5,device_logits,cycles,bit_exact\n");
    for r in &report.images {
        let classes: Vec<String> = r.top5.iter().map(|p| p.0.to_string()).collect();
        let logits: Vec<String> = r.top5.iter().map(|p| p.1.to_string()).collect();
        let exact = !cmp.mismatches.contains(&r.index);
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{}",
            r.index,
            r.label,
            r.top5.first().map(|p| p.0).unwrap_or(0),
            classes.join(" "),
            logits.join(" "),
            r.cycles,
            exact
        );
    }
    crate::error::write_atomic(&dir.join("compare.csv"), csv.as_bytes())?;
    let json = CompareDocument::new(cmp, report).to_json()?;
    crate::error::write_atomic(&dir.join("compare.json"), json.as_bytes())
}

#[derive(Clone, Debug, Args)]
#[command(after_help = "Examples:
  host compare --model runs/fmnist/alexnet-int8.axq --checkpoint runs/fmnist/checkpoint.safetensors
  host compare --model runs/fmnist/alexnet-int8.axq --json | jq .bit_exact

Exit status: 0 every image bit-exact, 3 the board differs from host int8 on
some (the table or JSON is printed first), 1 any other error, 2 a usage error.")]
pub struct CompareArgs {
    #[arg(long)]
    pub model: PathBuf,
    /// The device's answers from `host run` (default: MODEL with extension .run.json).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The training checkpoint, to add the float network's accuracy.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Directory for compare.csv and compare.json (default: next to the model).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the result as one JSON document on stdout (compare.json's) instead of the table (fields: docs/cli.md).
    #[arg(long)]
    pub json: bool,
    /// No progress and no "wrote" line on stderr or stdout; the table or JSON and the exit status stay.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(args: &CompareArgs) -> Result<()> {
    crate::progress::set_quiet(args.quiet);
    if let Some(out) = &args.out {
        crate::error::check_output_dir("--out", out)?;
    }
    let (bytes, _) = load_model(&args.model)?;
    let model = Model::parse(&bytes).map_err(|source| HostError::Model { path: args.model.clone(), source })?;
    let spec = model.spec().clone();
    let report = read_report(&args.report.clone().unwrap_or_else(|| default_report(&args.model)))?;
    let needed = report.images.iter().map(|r| r.index.saturating_add(1)).max().unwrap_or(0);
    let (images, _) = args.data.test_images(&spec, Some(needed))?;
    let float = match &args.checkpoint {
        Some(path) => {
            let ckpt = Checkpoint::load(path)?;
            if ckpt.model.spec != spec {
                return Err(HostError::Usage(format!(
                    "{} is not the network of {}",
                    path.display(),
                    args.model.display()
                )));
            }
            let inputs: Vec<Vec<u8>> = report
                .images
                .iter()
                .filter_map(|r| images.get(r.index))
                .map(|img| network_input(&model, img))
                .collect();
            Some(HostEngine::Float(&ckpt.model).run(&inputs)?.top5)
        }
        None => None,
    };
    let cmp = compare(&bytes, float.as_deref(), &report, &images)?;
    let dir = args.out.clone().unwrap_or_else(|| args.model.parent().map(Path::to_path_buf).unwrap_or_default());
    if args.json {
        // stdout holds the document alone, so that a script can parse it whole.
        write_outputs(&dir, &cmp, &report)?;
        println!("{}", CompareDocument::new(&cmp, &report).to_json()?);
    } else {
        print!("{}", table(&cmp));
        write_outputs(&dir, &cmp, &report)?;
        if !args.quiet {
            println!("wrote {} and {}", dir.join("compare.csv").display(), dir.join("compare.json").display());
        }
    }
    if cmp.bit_exact != cmp.images {
        return Err(HostError::Mismatch { differ: cmp.images - cmp.bit_exact, images: cmp.images });
    }
    Ok(())
}
