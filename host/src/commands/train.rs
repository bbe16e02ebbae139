//! `host train`: command-line options to a training run, a new one or one
//! resumed from its run directory.

use crate::args::arch::ArchArgs;
use crate::args::data::DataArgs;
use crate::args::values::{count, count_u32, count_u64, float_in, FloatRange};
use crate::data::Split;
use crate::error::{HostError, Result};
use crate::process_stats::peak_rss_text;
use crate::train::checkpoint::Checkpoint;
use crate::train::preprocess::Augment;
use crate::train::recipe::{Hyper, RecipeKind, Schedule};
use crate::train::trainer::{check_data, checkpoint_path, fresh, train, TrainConfig, TrainOutcome};
use clap::{Args, ValueEnum};
use dfdx::prelude::*;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceKind {
    Cpu,
    /// dfdx's CUDA backend (a host built with `--features cuda`).
    Cuda,
}

#[derive(Clone, Debug, Args)]
#[command(after_help = "Examples:
  host train --out runs/fmnist --width 0.5 --minutes 7
  host train --resume runs/fmnist --epochs 4
  host train --dataset folder --data photos --input 3x64x64 --out runs/photos --minutes 30")]
pub struct TrainArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Run directory: checkpoints, metrics.csv, curves.png.
    #[arg(long, default_value = "runs/train")]
    pub out: PathBuf,
    /// Continue the run in this directory from its last checkpoint.
    #[arg(long, conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = RecipeKind::Fast)]
    pub recipe: RecipeKind,
    /// Wall-clock budget in minutes (training and validation); the fast
    /// recipe's schedule is fitted to end on time, the paper recipe's run
    /// stops when it is spent (checkpointed; --resume continues).
    #[arg(long, value_parser = float_in::<f64>(FloatRange::Positive))]
    pub minutes: Option<f64>,
    #[arg(long, value_parser = count_u32(1..))]
    pub epochs: Option<u32>,
    /// Images per optimizer step (1 to 65,536).
    #[arg(long, value_parser = count(1..=MAX_BATCH))]
    pub batch: Option<usize>,
    /// Peak learning rate (above 0, at most 10: beyond, every network diverges).
    #[arg(long, value_parser = float_in::<f32>(FloatRange::Above(0.0, 10.0)))]
    pub lr: Option<f32>,
    #[arg(long, value_parser = float_in::<f32>(FloatRange::BelowOne))]
    pub momentum: Option<f32>,
    #[arg(long, value_parser = float_in::<f32>(FloatRange::BelowOne))]
    pub weight_decay: Option<f32>,
    #[arg(long, value_parser = float_in::<f32>(FloatRange::BelowOne))]
    pub label_smoothing: Option<f32>,
    /// Dropout probability on FC6/FC7 in training (paper 0.5, fast 0.25).
    #[arg(long, value_parser = float_in::<f32>(FloatRange::BelowOne))]
    pub dropout: Option<f32>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Turn off random horizontal flips.
    #[arg(long)]
    pub no_flip: bool,
    /// PCA colour augmentation strength (paper: 0.1; RGB only; at most 10).
    #[arg(long, value_parser = float_in::<f32>(FloatRange::Within(0.0, 10.0)))]
    pub lighting: Option<f32>,
    /// Shift training images by up to N pixels of the network input each way
    /// (the padded random crop of fixed-size sets; default 0; less than the
    /// input's side).
    #[arg(long)]
    pub translate: Option<u32>,
    /// Probability of random erasing, one random rectangle per image
    /// (Zhong et al. 2017; default 0).
    #[arg(long, value_parser = float_in::<f32>(FloatRange::Probability))]
    pub erase: Option<f32>,
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
    /// Image decoding threads (default: the machine's cores; at most 1,024).
    #[arg(long, value_parser = count(1..=1024))]
    pub workers: Option<usize>,
    /// Train on this many images of the training set only.
    #[arg(long, value_parser = count(1..))]
    pub train_limit: Option<usize>,
    /// Validate on this many test images only.
    #[arg(long, value_parser = count(1..))]
    pub val_limit: Option<usize>,
    /// Minutes between mid-epoch checkpoints (0: after every step, which
    /// costs a file write per step).
    #[arg(long, default_value_t = 5.0, value_parser = float_in::<f64>(FloatRange::NonNegative))]
    pub checkpoint_minutes: f64,
    /// Stop after this many optimizer steps in total (checkpointed; --resume continues).
    #[arg(long, value_parser = count_u64(1..))]
    pub max_steps: Option<u64>,
    /// Start a new run in --out even though it holds one (its checkpoints,
    /// metrics and curves are replaced).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
}

/// The largest `--batch`: beyond it a step's activations outgrow any machine.
pub const MAX_BATCH: u64 = 65_536;

/// The files of a run directory that training made: what `--overwrite`
/// replaces and what, without it, makes `--out` refuse a new run.
const RUN_FILES: [&str; 3] = ["checkpoint.safetensors", "best.safetensors", "metrics.csv"];

/// A new run's `--out`: a directory (or nothing yet) without a run in it,
/// unless `--overwrite` says to replace that run.
fn check_new_run_dir(args: &TrainArgs) -> Result<()> {
    let out = &args.out;
    if out.exists() && !out.is_dir() {
        return Err(HostError::Usage(format!(
            "--out {}: not a directory (a run directory is made there)",
            out.display()
        )));
    }
    let held: Vec<&str> = RUN_FILES.iter().copied().filter(|f| out.join(f).exists()).collect();
    if !held.is_empty() && !args.overwrite {
        return Err(HostError::Usage(format!(
            "--out {} already holds a training run ({}): continue it with --resume {}, or replace it with --overwrite",
            out.display(),
            held.join(", "),
            out.display()
        )));
    }
    Ok(())
}

/// Removes the files of the run `--overwrite` replaces, so none of them
/// (a best checkpoint, old metrics rows) is mistaken for the new run's.
fn clear_run_dir(dir: &std::path::Path) -> Result<()> {
    for name in RUN_FILES.iter().chain(&["curves.png"]) {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(HostError::File { path, source: e }),
            _ => {}
        }
    }
    Ok(())
}

fn workers(n: Option<usize>) -> usize {
    n.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

impl TrainArgs {
    fn hyper(&self) -> Hyper {
        let mut h = Hyper::defaults(self.recipe);
        h.epochs = self.epochs.unwrap_or(h.epochs);
        h.batch = self.batch.unwrap_or(h.batch);
        h.lr = self.lr.unwrap_or(h.lr);
        h.momentum = self.momentum.unwrap_or(h.momentum);
        h.weight_decay = self.weight_decay.unwrap_or(h.weight_decay);
        h.label_smoothing = self.label_smoothing.unwrap_or(h.label_smoothing);
        h.dropout = self.dropout.unwrap_or(h.dropout);
        h.seed = self.seed.unwrap_or(h.seed);
        h
    }
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let (run_dir, start) = match &args.resume {
        Some(dir) => {
            let mut ckpt = Checkpoint::load(&checkpoint_path(dir))?;
            if let Some(e) = args.epochs {
                ckpt.hyper.epochs = e;
                if let Schedule::WarmupCosine { warmup, .. } = ckpt.hyper.schedule {
                    if args.minutes.is_none() {
                        ckpt.hyper.schedule = Schedule::WarmupCosine { warmup, total: 0 };
                    }
                }
            }
            if ckpt.progress.epoch >= ckpt.hyper.epochs {
                println!(
                    "{} is finished ({} of {} epochs, step {}): nothing to train; --epochs N trains further",
                    dir.display(),
                    ckpt.progress.epoch,
                    ckpt.hyper.epochs,
                    ckpt.progress.step
                );
                return Ok(());
            }
            println!("resuming {} at epoch {}, step {}", dir.display(), ckpt.progress.epoch + 1, ckpt.progress.step);
            (dir.clone(), ckpt)
        }
        None => {
            check_new_run_dir(args)?;
            let spec = args.arch.spec()?;
            let hyper = args.hyper();
            if !(0.0..1.0).contains(&hyper.dropout) {
                return Err(HostError::Usage(format!("--dropout must be in [0, 1), got {}", hyper.dropout)));
            }
            let classes: Vec<String> = (0..spec.classes()).map(|c| c.to_string()).collect();
            (args.out.clone(), fresh(&spec, hyper, classes))
        }
    };
    let spec = start.model.spec.clone();
    if let Some(t) = args.translate.filter(|&t| t >= spec.input.h.min(spec.input.w)) {
        return Err(HostError::Usage(format!("--translate {t} must be less than the input's side ({})", spec.input)));
    }
    let channels = spec.input.c;
    let train_set = args.data.open(Split::Train, channels)?;
    let val_set = args.data.open(Split::Test, channels)?;
    let mut start = start;
    if args.resume.is_none() {
        start.classes = train_set.classes().to_vec();
    } else if start.classes.len() != train_set.classes().len() {
        return Err(HostError::Usage(format!(
            "the checkpoint has {} classes but {} has {}: resume with the dataset it was trained on",
            start.classes.len(),
            train_set.describe(),
            train_set.classes().len()
        )));
    }
    // A resumed run trains on what it started with; flags given now win.
    let stored = if args.resume.is_some() { start.data } else { None };
    let fixed = train_set.image_shape().is_some();
    let augment = match stored {
        Some(d) => Augment {
            flip: d.augment.flip && !args.no_flip,
            lighting: args.lighting.unwrap_or(d.augment.lighting),
            translate: args.translate.unwrap_or(d.augment.translate),
            erase: args.erase.unwrap_or(d.augment.erase),
            ..d.augment
        },
        None => Augment {
            flip: !args.no_flip,
            random_crop: !fixed,
            lighting: args.lighting.unwrap_or(if start.hyper.recipe == RecipeKind::Paper && channels == 3 {
                0.1
            } else {
                0.0
            }),
            translate: args.translate.unwrap_or(0),
            erase: args.erase.unwrap_or(0.0),
        },
    };
    if !(0.0..=1.0).contains(&augment.erase) {
        return Err(HostError::Usage(format!("--erase is a probability in [0, 1], got {}", augment.erase)));
    }
    let train_limit = args.train_limit.or(stored.and_then(|d| d.train_limit));
    let val_limit = args.val_limit.or(stored.and_then(|d| d.val_limit));
    if stored.is_some() {
        let limit = |l: Option<usize>| l.map_or("all".to_string(), |n| n.to_string());
        println!(
            "the run's data settings: {} training images, {} validation images, flip {}, lighting {}, translate {}, erase {}",
            limit(train_limit),
            limit(val_limit),
            augment.flip,
            augment.lighting,
            augment.translate,
            augment.erase
        );
    }
    let config = TrainConfig {
        spec,
        hyper: start.hyper,
        augment,
        minutes: args.minutes,
        run_dir: run_dir.clone(),
        workers: workers(args.workers),
        train_limit,
        val_limit,
        // Minutes beyond Duration's range (the parser takes any finite
        // number) mean never.
        checkpoint_every: Duration::try_from_secs_f64(args.checkpoint_minutes.max(0.0) * 60.0).unwrap_or(Duration::MAX),
        stop_after_steps: args.max_steps,
    };
    #[cfg(feature = "openblas")]
    if matches!(args.device, DeviceKind::Cpu) {
        if let Some(note) = crate::openblas::narrower_than_cpu() {
            println!("{note}");
        }
    }
    // Only now, with every flag and the data checked: a mistake above
    // leaves the old run as it was.
    if args.overwrite {
        check_data(&config.spec, train_set.as_ref(), val_set.as_ref())?;
        clear_run_dir(&run_dir)?;
    }
    let outcome = match args.device {
        DeviceKind::Cpu => train(&Cpu::seed_from_u64(config.hyper.seed), &config, train_set, val_set, start)?,
        DeviceKind::Cuda => train_cuda(&config, train_set, val_set, start)?,
    };
    if let Some(v) = outcome.final_val {
        println!(
            "done: test top-1 accuracy {:.2}%, top-5 {:.2}% after {} steps in {:.1} min, peak RSS {}; checkpoint {}",
            100.0 * (1.0 - v.top1_err),
            100.0 * (1.0 - v.top5_err),
            outcome.progress.step,
            outcome.progress.seconds / 60.0,
            peak_rss_text(),
            outcome.checkpoint.display()
        );
    }
    Ok(())
}

#[cfg(feature = "cuda")]
fn train_cuda(
    config: &TrainConfig,
    train_set: std::sync::Arc<dyn crate::data::Dataset>,
    val_set: std::sync::Arc<dyn crate::data::Dataset>,
    start: Checkpoint,
) -> Result<TrainOutcome> {
    let dev = Cuda::try_seed_from_u64(config.hyper.seed)
        .map_err(|e| HostError::Usage(format!("cannot open the CUDA device: {e:?}")))?;
    train(&dev, config, train_set, val_set, start)
}

#[cfg(not(feature = "cuda"))]
fn train_cuda(
    _: &TrainConfig,
    _: std::sync::Arc<dyn crate::data::Dataset>,
    _: std::sync::Arc<dyn crate::data::Dataset>,
    _: Checkpoint,
) -> Result<TrainOutcome> {
    Err(HostError::Usage(
        "this host was built without CUDA: build it with `cargo build --release -p host --features cuda`".into(),
    ))
}
