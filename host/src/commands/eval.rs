//! `host eval --engine float|int8|tract|all`: top-1/top-5 error of each
//! engine on the same test images, and how often each pair agrees; as a
//! table, or with `--json` as one JSON document.

use crate::args::data::{network_inputs_of, DataArgs, NetworkInputs, TestSetArgs};
use crate::data::{Dataset, Split};
use crate::error::{HostError, Result};
use crate::inference::engine::NO_TRACT;
use crate::inference::int8::load_model;
use crate::inference::{float, top5, Accuracy, EngineRun, HostEngine};
use crate::train::checkpoint::Checkpoint;
use crate::train::preprocess::{ten_crops, InputGeometry};
use clap::{Args, ValueEnum};
use serde::Serialize;
use shared::layers::softmax::softmax_f32;
use shared::ModelSpec;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// The float network in dfdx (needs --checkpoint).
    Float,
    /// The int8 model, shared kernels, as on the board (needs --model).
    Int8,
    /// tract on the exported ONNX graph (--onnx, or exported from --checkpoint).
    Tract,
    /// Every engine the given files allow.
    All,
}

#[derive(Clone, Debug, Args)]
pub struct EvalArgs {
    #[arg(long, value_enum, default_value_t = EngineKind::Float)]
    pub engine: EngineKind,
    /// A training checkpoint (RUN_DIR/checkpoint.safetensors).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// An int8 model file from `host quantize`.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// An ONNX file from `host export-onnx`.
    #[arg(long)]
    pub onnx: Option<PathBuf>,
    #[command(flatten)]
    pub test: TestSetArgs,
    /// Also run the float network the paper's way (section 4.1): softmax
    /// averaged over ten patches, the corner and centre crops of the
    /// 256/227-scaled image and their mirrors (image folders only).
    #[arg(long)]
    pub ten_crop: bool,
    /// Print one JSON document on stdout instead of the table (fields: docs/cli.md).
    #[arg(long)]
    pub json: bool,
    /// No progress and no notes on stderr; the result is printed all the same.
    #[arg(long)]
    pub quiet: bool,
}

/// The test set, if ten-crop evaluation makes sense for it.
fn ten_crop_set(data: &DataArgs, spec: &ModelSpec) -> Result<Arc<dyn Dataset>> {
    let set = data.open(Split::Test, spec.input.c)?;
    if set.image_shape().is_some() {
        return Err(HostError::Usage(format!(
            "--ten-crop takes crops of 256/227-scaled photos as the paper trains on; {} is trained on whole images, \
             so evaluate it without --ten-crop",
            set.describe()
        )));
    }
    Ok(set)
}

/// The float network's top-5 from softmax averaged over each test image's
/// ten patches; `labels` are those of the single-crop run, to check that
/// both saw the same images.
fn ten_crop_run(ckpt: &Checkpoint, set: &dyn Dataset, limit: Option<usize>, labels: &[u32]) -> Result<EngineRun> {
    let spec = &ckpt.model.spec;
    let classes = spec.classes() as usize;
    let (mut top, mut seen) = (Vec::new(), Vec::new());
    let n = limit.unwrap_or(usize::MAX).min(set.len());
    // A few hundred images at a time: ten crops each stay in memory briefly.
    for start in (0..n).step_by(256) {
        let mut crops = Vec::new();
        let mut batch_labels = Vec::new();
        for i in start..(start + 256).min(n) {
            // Undecodable files are skipped, as in the single-crop run.
            if let Ok(img) = set.image(i) {
                crops.extend(ten_crops(&img, InputGeometry::of(spec)));
                batch_labels.push(set.label(i));
            }
        }
        let logits = float::logits_of(&ckpt.model, &crops, "10-crop");
        let mut probabilities = vec![0f32; classes];
        for patches in logits.chunks_exact(10) {
            let mut mean = vec![0f32; classes];
            for l in patches {
                softmax_f32(l, &mut probabilities);
                for (m, p) in mean.iter_mut().zip(&probabilities) {
                    *m += p / 10.0;
                }
            }
            top.push(top5(&mean));
        }
        seen.extend(batch_labels);
    }
    if seen != labels {
        return Err(HostError::Usage("the test set changed while it was read".into()));
    }
    Ok(EngineRun { name: "10-crop", top5: top, logits: None })
}

/// One engine's counts on the test images.
#[derive(Clone, Debug, Serialize)]
pub struct EngineAccuracy {
    pub name: &'static str,
    #[serde(flatten)]
    pub accuracy: Accuracy,
}

/// How often two engines agree, in images.
#[derive(Clone, Debug, Serialize)]
pub struct Agreement {
    pub a: &'static str,
    pub b: &'static str,
    /// Images with the same top-1 class.
    pub same_top1: usize,
    /// Images with the same set of top-5 classes (in any order).
    pub same_top5_set: usize,
    /// The largest difference between the two engines' logits, where both
    /// give float logits; null otherwise.
    pub max_logit_diff: Option<f32>,
}

/// `host eval --json`: accuracy per engine and agreement per pair.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// Test images every engine ran.
    pub images: usize,
    /// Test images that could not be decoded (not counted in `images`).
    pub skipped: usize,
    pub engines: Vec<EngineAccuracy>,
    pub agreement: Vec<Agreement>,
}

impl Evaluation {
    pub fn of(runs: &[EngineRun], labels: &[u32], skipped: usize) -> Self {
        let engines = runs
            .iter()
            .map(|r| {
                let mut accuracy = Accuracy::default();
                for (t, &l) in r.top5.iter().zip(labels) {
                    accuracy.add(l, t);
                }
                EngineAccuracy { name: r.name, accuracy }
            })
            .collect();
        let sorted = |v: &Vec<usize>| {
            let mut v = v.clone();
            v.sort();
            v
        };
        let mut agreement = Vec::new();
        for (i, a) in runs.iter().enumerate() {
            for b in &runs[i + 1..] {
                let same_top1 = a.top5.iter().zip(&b.top5).filter(|(x, y)| x[0] == y[0]).count();
                let same_top5_set = a.top5.iter().zip(&b.top5).filter(|(x, y)| sorted(x) == sorted(y)).count();
                let max_logit_diff = match (&a.logits, &b.logits) {
                    (Some(x), Some(y)) => Some(
                        x.iter()
                            .zip(y)
                            .flat_map(|(p, q)| p.iter().zip(q).map(|(u, v)| (u - v).abs()))
                            .fold(0.0f32, f32::max),
                    ),
                    _ => None,
                };
                agreement.push(Agreement { a: a.name, b: b.name, same_top1, same_top5_set, max_logit_diff });
            }
        }
        Evaluation { images: labels.len(), skipped, engines, agreement }
    }

    /// The table as printed without `--json`.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{:<8} {:>8} {:>12} {:>12}", "engine", "images", "top-1 error", "top-5 error");
        for e in &self.engines {
            let acc = &e.accuracy;
            let _ = writeln!(
                s,
                "{:<8} {:>8} {:>11.2}% {:>11.2}%",
                e.name,
                acc.images,
                100.0 - acc.top1_pct(),
                100.0 - acc.top5_pct()
            );
        }
        if !self.agreement.is_empty() {
            let _ = writeln!(
                s,
                "\n{:<16} {:>10} {:>14} {:>18}",
                "agreement", "same top-1", "same top-5 set", "max |logit diff|"
            );
            let n = self.images.max(1) as f64;
            for p in &self.agreement {
                let diff = p.max_logit_diff.map_or("-".into(), |d| format!("{d:.2e}"));
                let _ = writeln!(
                    s,
                    "{:<16} {:>9.2}% {:>13.2}% {:>18}",
                    format!("{} / {}", p.a, p.b),
                    100.0 * p.same_top1 as f64 / n,
                    100.0 * p.same_top5_set as f64 / n,
                    diff
                );
            }
        }
        if self.skipped > 0 {
            let _ = writeln!(s, "{} test images could not be decoded and were skipped", self.skipped);
        }
        s
    }
}

pub fn run(args: &EvalArgs) -> Result<()> {
    crate::progress::set_quiet(args.quiet);
    let want = |e: EngineKind| args.engine == e || args.engine == EngineKind::All;
    let ckpt = args.checkpoint.as_ref().map(|p| Checkpoint::load(p)).transpose()?;
    let int8 = args.model.as_ref().map(|p| load_model(p)).transpose()?;
    let spec = match (&ckpt, &int8) {
        (Some(c), _) => c.model.spec.clone(),
        (None, Some((bytes, _))) => {
            shared::Model::parse(bytes).map_err(|e| HostError::Usage(e.to_string()))?.spec().clone()
        }
        (None, None) => return Err(HostError::Usage("give --checkpoint and/or --model".into())),
    };
    // Refused before any long work.
    #[cfg(feature = "tract")]
    if let (true, Some(onnx)) = (want(EngineKind::Tract), &args.onnx) {
        crate::inference::tract::TractRunner::load(onnx, &spec, 1)?;
    }
    let ten_crop = args.ten_crop.then(|| ten_crop_set(&args.test.data, &spec)).transpose()?;
    let test_set = args.test.data.open(Split::Test, spec.input.c)?;
    // Accuracy compares class indices: they must mean the same classes.
    if let Some(ckpt) = ckpt.as_ref().filter(|c| !c.classes.is_empty()) {
        if let Some(difference) =
            crate::data::class_difference(("the checkpoint", &ckpt.classes), ("the data", test_set.classes()))
        {
            return Err(HostError::Usage(format!(
                "the checkpoint was trained on other classes than the test data's ({difference}); pass the data it was trained on"
            )));
        }
    }
    let NetworkInputs { images, labels, skipped } = network_inputs_of(test_set.as_ref(), &spec, args.test.limit);
    let mut runs = Vec::new();
    if want(EngineKind::Float) {
        let ckpt = ckpt.as_ref().ok_or_else(|| HostError::Usage("--engine float needs --checkpoint".into()))?;
        runs.push(HostEngine::Float(&ckpt.model).run(&images)?);
    }
    if let Some(set) = &ten_crop {
        let ckpt = ckpt.as_ref().ok_or_else(|| HostError::Usage("--ten-crop needs --checkpoint".into()))?;
        runs.push(ten_crop_run(ckpt, set.as_ref(), args.test.limit, &labels)?);
    }
    if want(EngineKind::Int8) {
        match &int8 {
            Some((bytes, _)) => {
                let model = shared::Model::parse(bytes).map_err(|e| HostError::Usage(e.to_string()))?;
                if *model.spec() != spec {
                    return Err(HostError::Usage("the int8 model is not the checkpoint's network".into()));
                }
                runs.push(HostEngine::Int8(&model).run(&images)?);
            }
            None if args.engine == EngineKind::Int8 => {
                return Err(HostError::Usage("--engine int8 needs --model".into()))
            }
            None => {}
        }
    }
    if args.engine == EngineKind::All && !cfg!(feature = "tract") {
        // A note, not the result: stdout may hold the JSON document alone.
        if !args.quiet {
            eprintln!("tract skipped: {NO_TRACT}");
        }
    } else if want(EngineKind::Tract) {
        let onnx = match (&args.onnx, &ckpt) {
            (Some(p), _) => p.clone(),
            (None, Some(c)) => {
                let p = std::env::temp_dir().join(format!("alexnet-eval-{}.onnx", std::process::id()));
                crate::onnx::export(&c.model, &p)?;
                p
            }
            (None, None) => return Err(HostError::Usage("--engine tract needs --onnx or --checkpoint".into())),
        };
        let run = HostEngine::Tract { onnx: &onnx, spec: &spec }.run(&images);
        if args.onnx.is_none() {
            let _ = std::fs::remove_file(&onnx);
        }
        runs.push(run?);
    }
    let evaluation = Evaluation::of(&runs, &labels, skipped);
    if args.json {
        let json = serde_json::to_string_pretty(&evaluation).map_err(|e| HostError::Usage(e.to_string()))?;
        println!("{json}");
    } else {
        print!("{}", evaluation.table());
    }
    Ok(())
}
