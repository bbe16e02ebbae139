//! The training loop: epochs of shuffled batches decoded off-thread, momentum
//! SGD, validation each epoch, metrics and atomic checkpoints in the run
//! directory, and a loss check that stops before a NaN reaches the weights.
//!
//! Every random choice (shuffling, augmentation, dropout) is drawn from a
//! generator seeded by (seed, epoch, position) or (seed, step), never from
//! running state, so a resumed run replays exactly what an uninterrupted one
//! would have done.

use super::checkpoint::{
    save_checkpoint, Checkpoint, CheckpointHeader, ParamSource, Part, Progress as TrainProgress, RunData,
};
use super::device::TrainDevice;
use super::evaluate::check_labels;
pub use super::evaluate::{evaluate, EvalResult};
use super::metrics::{EpochRow, MetricsLog};
use super::model::{AlexNet, Params};
use super::optim::Sgd;
use super::preprocess::{normalize_batch, train_pixels, Augment, InputGeometry};
use super::recipe::{Hyper, Schedule};
use super::rng::{epoch_order, stream, AUGMENT};
use super::step::{StepDevice, StepInput, StepOutput};
use crate::data::{loader::Loader, Dataset, Image};
use crate::error::{HostError, Result};
use crate::progress::Progress;
use dfdx::prelude::*;
use shared::float::{FloatModel, LayerParams};
use shared::layers::softmax::top_k;
use shared::spec::ModelSpec;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything `train` needs besides the data and the device.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub spec: ModelSpec,
    pub hyper: Hyper,
    pub augment: Augment,
    /// Wall-clock budget for training plus validation; sets the number of
    /// steps once the speed is measured (warm-up/cosine schedule only).
    pub minutes: Option<f64>,
    pub run_dir: PathBuf,
    /// Decoding threads.
    pub workers: usize,
    /// Train on the first N images of the (shuffled) set only.
    pub train_limit: Option<usize>,
    /// Validate on the first N images only.
    pub val_limit: Option<usize>,
    /// Also checkpoint mid-epoch this often.
    pub checkpoint_every: Duration,
    /// Stop (with a checkpoint) after this many steps in total: for tests of
    /// resuming, and for a quick look at a recipe.
    pub stop_after_steps: Option<u64>,
}

pub struct TrainOutcome {
    pub checkpoint: PathBuf,
    pub final_val: Option<EvalResult>,
    pub progress: TrainProgress,
}

pub fn checkpoint_path(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoint.safetensors")
}

/// Labels are class indices, so validation measures the trained classes
/// only when both sets name the same classes in the same order (two image
/// folders can differ: a class missing from one, a typo in a folder name).
fn check_same_classes(train: &dyn Dataset, val: &dyn Dataset) -> Result<()> {
    match crate::data::class_difference(("training", train.classes()), ("validation", val.classes())) {
        None => Ok(()),
        Some(difference) => Err(HostError::Usage(format!(
            "{} and {} name different classes ({difference}); give both the same class folders",
            train.describe(),
            val.describe()
        ))),
    }
}

/// Whether `spec` can train on `train_set` and validate on `val_set`: as
/// many classes as outputs, the same classes in both. [`train`] checks it
/// first; a caller can check it before doing anything it cannot undo.
pub fn check_data(spec: &ModelSpec, train_set: &dyn Dataset, val_set: &dyn Dataset) -> Result<()> {
    let classes = spec.classes() as usize;
    check_labels(train_set, classes)?;
    check_labels(val_set, classes)?;
    check_same_classes(train_set, val_set)
}

/// Puts a checkpoint's momentum back into the optimizer on the device.
fn momentum_from_float<D: TrainDevice>(net: &AlexNet<D>, sgd: &mut Sgd<D>, momentum: &[LayerParams]) {
    let layers = net.params.iter().zip(momentum).filter_map(|(p, m)| p.as_ref().map(|p| (p, m)));
    for ((p, m), v) in layers.zip(&mut sgd.velocity) {
        if m.weights.is_empty() {
            continue;
        }
        let dev = p.weight.device();
        *v = Params {
            weight: dev.tensor_from_vec(m.weights.clone(), *p.weight.shape()),
            bias: dev.tensor_from_vec(m.bias.clone(), *p.bias.shape()),
        };
    }
}

struct Saver<'a> {
    run_dir: &'a Path,
    hyper: Hyper,
    classes: Vec<String>,
    data: RunData,
}

impl Saver<'_> {
    /// Writes the training state straight from the device, one tensor at a
    /// time: no float copy of the whole network and its momentum.
    fn save<D: TrainDevice>(
        &self,
        net: &AlexNet<D>,
        sgd: &Sgd<D>,
        progress: &TrainProgress,
        name: &str,
    ) -> Result<PathBuf> {
        let path = self.run_dir.join(name);
        let header = CheckpointHeader {
            spec: &net.spec,
            hyper: self.hyper,
            progress,
            classes: &self.classes,
            data: Some(self.data),
        };
        save_checkpoint(&path, &header, &TrainingState::new(net, sgd))?;
        Ok(path)
    }
}

/// The network and its optimizer's momentum as a checkpoint's source.
struct TrainingState<'a, D: TrainDevice> {
    net: &'a AlexNet<D>,
    sgd: &'a Sgd<D>,
    /// Index into `sgd.velocity` of each spec layer with parameters.
    velocity_of: Vec<Option<usize>>,
}

impl<'a, D: TrainDevice> TrainingState<'a, D> {
    fn new(net: &'a AlexNet<D>, sgd: &'a Sgd<D>) -> Self {
        let mut next = 0..;
        let velocity_of = net.params.iter().map(|p| p.as_ref().and_then(|_| next.next())).collect();
        TrainingState { net, sgd, velocity_of }
    }
}

impl<D: TrainDevice> ParamSource for TrainingState<'_, D> {
    fn has_momentum(&self, layer: usize) -> bool {
        self.velocity_of[layer].is_some()
    }

    fn values(&self, layer: usize, part: Part) -> Cow<'_, [f32]> {
        let p = match part {
            Part::Weight | Part::Bias => self.net.params[layer].as_ref(),
            Part::WeightMomentum | Part::BiasMomentum => self.velocity_of[layer].map(|i| &self.sgd.velocity[i]),
        };
        let p = p.expect("save_checkpoint asks only for layers with parameters");
        Cow::Owned(match part {
            Part::Weight | Part::WeightMomentum => p.weight.as_vec(),
            Part::Bias | Part::BiasMomentum => p.bias.as_vec(),
        })
    }
}

/// Trains from `start` (fresh weights or a checkpoint) and returns where the
/// final checkpoint is.
pub fn train<D: StepDevice>(
    dev: &D,
    config: &TrainConfig,
    train_set: Arc<dyn Dataset>,
    val_set: Arc<dyn Dataset>,
    start: Checkpoint,
) -> Result<TrainOutcome> {
    let spec = &config.spec;
    let classes = spec.classes() as usize;
    check_data(spec, train_set.as_ref(), val_set.as_ref())?;
    std::fs::create_dir_all(&config.run_dir)
        .map_err(|source| HostError::File { path: config.run_dir.clone(), source })?;

    let mut hyper = start.hyper;
    let mut state = start.progress.clone();
    let mut net = AlexNet::from_float(&start.model, dev);
    let mut sgd = Sgd::new(&net, hyper.momentum, hyper.weight_decay);
    momentum_from_float(&net, &mut sgd, &start.momentum);
    // The device holds them now: the float copies would otherwise stay for
    // the whole run (a quarter GB each on the paper network).
    drop((start.model, start.momentum));

    // The CLI refuses --batch 0; a checkpoint's batch comes from a file.
    if hyper.batch == 0 {
        return Err(HostError::Usage("the batch size is 0: --batch takes 1 or more".into()));
    }
    let train_len = config.train_limit.unwrap_or(usize::MAX).min(train_set.len());
    let steps_per_epoch = train_len.div_ceil(hyper.batch) as u64;
    if steps_per_epoch == 0 {
        return Err(HostError::Usage(format!("{} has no images to train on", train_set.describe())));
    }
    // Without a time budget the schedule spans the requested epochs.
    // Warm-up takes at most a quarter of a short run.
    if let Schedule::WarmupCosine { warmup, total: 0 } = hyper.schedule {
        if config.minutes.is_none() {
            let total = steps_per_epoch * hyper.epochs as u64;
            hyper.schedule = Schedule::WarmupCosine { warmup: warmup.min(total / 4).max(1), total };
        }
    }
    let data = RunData { train_limit: config.train_limit, val_limit: config.val_limit, augment: config.augment };
    let mut saver = Saver { run_dir: &config.run_dir, hyper, classes: train_set.classes().to_vec(), data };
    let mut metrics = MetricsLog::open(&config.run_dir.join("metrics.csv"))?;

    let geom = InputGeometry::of(spec);
    let input = spec.input;
    let fixed = train_set.image_shape().is_some();
    let mut last_val = None;
    let session_start = Instant::now();
    let seconds_before = state.seconds;
    let mut last_checkpoint = Instant::now();
    // A time budget sets the schedule's length from the measured speed, and
    // keeps correcting it as the speed changes (a shared machine).
    let budgeted = config.minutes.is_some() && matches!(hyper.schedule, Schedule::WarmupCosine { total: 0, .. });
    let warmup_steps = match hyper.schedule {
        Schedule::WarmupCosine { warmup, .. } => warmup,
        _ => 0,
    };
    let (mut step_seconds, mut steps_timed, mut announced) = (0.0f64, 0u64, false);
    let mut timed_out = false;

    println!(
        "training AlexNet {} -> {} classes ({} parameters) on {} ({} steps/epoch, batch {}, {:?} recipe)",
        spec.input,
        classes,
        spec.param_count(),
        train_set.describe(),
        steps_per_epoch,
        hyper.batch,
        hyper.recipe
    );
    'epochs: while state.epoch < hyper.epochs {
        let epoch = state.epoch;
        let order: Vec<usize> = epoch_order(hyper.seed, epoch, train_set.len()).into_iter().take(train_len).collect();
        let skip = (state.batch_in_epoch as usize * hyper.batch).min(order.len());
        let (seed, aug) = (hyper.seed, config.augment);
        let transform = Arc::new(move |img: Image, pos: usize| {
            let mut rng = stream(seed, AUGMENT, ((epoch as u64) << 32) | pos as u64);
            Image { shape: input, pixels: train_pixels(&img, geom, fixed, &aug, &mut rng) }
        });
        let positions = order[skip..].to_vec();
        // The loader numbers positions from 0; shift them to the epoch's.
        let transform = Arc::new(move |img: Image, pos: usize| transform(img, pos + skip));
        let loader = Loader::new(train_set.clone(), positions, hyper.batch, config.workers, 4, transform);

        // A time budget's epoch count is an estimate from the measured speed
        // until the run ends: say so rather than show a total that moves.
        let label = match (budgeted, announced) {
            (false, _) => format!("epoch {}/{}", epoch + 1, hyper.epochs),
            (true, false) => format!("epoch {}", epoch + 1),
            (true, true) => format!("epoch {} of about {}", epoch + 1, hyper.epochs),
        };
        let mut bar = Progress::new(&label, (train_len - skip) as u64);
        let (mut loss_sum, mut correct, mut seen, mut skipped) = (0.0f64, 0usize, 0usize, 0usize);
        let epoch_start = Instant::now();
        let mut previous_step_end = epoch_start;
        for b in loader {
            skipped += b.skipped.len();
            if b.images.is_empty() {
                state.batch_in_epoch += 1;
                continue;
            }
            let lr = hyper.lr_at(state.step, state.plateau_drops);
            let data = normalize_batch(spec, b.images.iter().map(|img| img.pixels.as_slice()));
            let step_input = StepInput { spec, data: &data, labels: &b.labels, hyper: &hyper, step: state.step };
            let StepOutput { logits: values, loss: loss_value, grads } = D::step_gradients(&net, dev, &step_input);
            if !loss_value.is_finite() {
                return Err(HostError::Diverged {
                    epoch: epoch + 1,
                    step: state.step,
                    lr,
                    checkpoint: checkpoint_path(&config.run_dir),
                });
            }
            sgd.step(&mut net, &grads, lr);
            state.step += 1;
            state.batch_in_epoch += 1;

            loss_sum += loss_value as f64 * b.images.len() as f64;
            seen += b.images.len();
            for (row, &label) in values.chunks_exact(classes).zip(&b.labels) {
                correct += (top_k::<f32, 1>(row).first() == Some(&(label as usize))) as usize;
            }
            let rate = seen as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
            // Under a time budget, the time is what the run knows for sure.
            let budget = config.minutes.map_or(String::new(), |m| {
                let spent = seconds_before + session_start.elapsed().as_secs_f64();
                format!(" | {} of {} spent", clock(spent), clock(m * 60.0))
            });
            bar.inc(
                (b.images.len() + b.skipped.len()) as u64,
                &format!(
                    "loss {:.4} acc {:.2}% lr {lr:.2e} {rate:.0} img/s{budget}",
                    loss_sum / seen as f64,
                    100.0 * correct as f64 / seen as f64
                ),
            );

            if let (true, Some(minutes)) = (budgeted, config.minutes) {
                // Session steps after the first few (allocations, caches).
                // Loader waits included; validation is budgeted separately.
                let now = Instant::now();
                if state.step >= start.progress.step + 3 {
                    step_seconds += (now - previous_step_end).as_secs_f64();
                    steps_timed += 1;
                }
                previous_step_end = now;
                if steps_timed >= 20 && (steps_timed == 20 || steps_timed % 100 == 0) {
                    let per_step = step_seconds / steps_timed as f64;
                    let left = minutes * 60.0 - seconds_before - session_start.elapsed().as_secs_f64();
                    let total = budget_steps(left, per_step, hyper.batch, val_len(config, &val_set), steps_per_epoch)
                        + state.step;
                    hyper.schedule = Schedule::WarmupCosine { warmup: warmup_steps.min(total / 4), total };
                    hyper.epochs = total.div_ceil(steps_per_epoch) as u32;
                    if !announced {
                        announced = true;
                        println!(
                            "time budget {minutes} min: about {total} steps ({:.2} epochs) at {:.0} img/s",
                            total as f64 / steps_per_epoch as f64,
                            hyper.batch as f64 / per_step
                        );
                    }
                }
            }
            let ended = match hyper.schedule {
                Schedule::WarmupCosine { total, .. } if total > 0 => state.step >= total,
                _ => false,
            };
            // Without a schedule to fit (the paper's plateau schedule), a time
            // budget stops the run where it is, resumable like --max-steps.
            let spent = seconds_before + session_start.elapsed().as_secs_f64();
            timed_out = !budgeted && config.minutes.is_some_and(|m| spent >= m * 60.0);
            let stop = config.stop_after_steps.is_some_and(|s| state.step >= s) || timed_out;
            if last_checkpoint.elapsed() >= config.checkpoint_every || stop {
                state.seconds = spent;
                saver.hyper = hyper;
                saver.save(&net, &sgd, &state, "checkpoint.safetensors")?;
                last_checkpoint = Instant::now();
            }
            if stop {
                bar.finish();
                let why = if timed_out { "the time budget is spent" } else { "as asked" };
                println!(
                    "stopped after step {} ({why}); resume with --resume {}",
                    state.step,
                    config.run_dir.display()
                );
                break 'epochs;
            }
            if ended {
                break;
            }
        }
        bar.finish();
        let train_secs = epoch_start.elapsed().as_secs_f64();

        let val = evaluate(&net, val_set.clone(), config.val_limit, hyper.batch.max(64), config.workers, "validate")?;
        last_val = Some(val);
        let improved = state.best_val_top1_err.is_none_or(|b| val.top1_err < b);
        if improved {
            state.best_val_top1_err = Some(val.top1_err);
            state.epochs_since_best = 0;
        } else {
            state.epochs_since_best += 1;
        }
        if let Schedule::Plateau { patience, .. } = hyper.schedule {
            if state.epochs_since_best >= patience && !improved {
                state.plateau_drops += 1;
                state.epochs_since_best = 0;
                println!(
                    "validation error stopped improving: learning rate now {:.2e}",
                    hyper.lr_at(state.step, state.plateau_drops)
                );
            }
        }
        state.epoch += 1;
        state.batch_in_epoch = 0;
        state.seconds = seconds_before + session_start.elapsed().as_secs_f64();
        let row = EpochRow {
            epoch: state.epoch,
            step: state.step,
            lr: hyper.lr_at(state.step.saturating_sub(1), state.plateau_drops) as f64,
            train_loss: loss_sum / seen.max(1) as f64,
            train_top1_err: 1.0 - correct as f64 / seen.max(1) as f64,
            val_loss: val.loss,
            val_top1_err: val.top1_err,
            val_top5_err: val.top5_err,
            images_per_sec: seen as f64 / train_secs.max(1e-9),
            seconds: state.seconds,
            skipped: skipped + val.skipped,
        };
        println!("{}", row.summary());
        if skipped + val.skipped > 0 {
            println!("  skipped {skipped} training and {} validation images that could not be decoded", val.skipped);
        }
        metrics.append(&row)?;
        saver.hyper = hyper;
        saver.save(&net, &sgd, &state, "checkpoint.safetensors")?;
        if improved {
            saver.save(&net, &sgd, &state, "best.safetensors")?;
        }
        last_checkpoint = Instant::now();
        let ended = matches!(hyper.schedule, Schedule::WarmupCosine { total, .. } if total > 0 && state.step >= total);
        if ended {
            break;
        }
    }
    if timed_out {
        // The run ends here, mid-epoch: report where it got to.
        last_val =
            Some(evaluate(&net, val_set.clone(), config.val_limit, hyper.batch.max(64), config.workers, "validate")?);
    }
    super::plot::curves(&metrics.rows, &config.run_dir.join("curves.png"))?;
    Ok(TrainOutcome { checkpoint: checkpoint_path(&config.run_dir), final_val: last_val, progress: state })
}

fn val_len(config: &TrainConfig, val: &Arc<dyn Dataset>) -> usize {
    config.val_limit.unwrap_or(usize::MAX).min(val.len())
}

/// Steps that fit in `seconds` at `per_step`, leaving time for one
/// validation pass per epoch (a forward pass costs about a third of a step).
/// Seconds as `m:ss`, or `h:mm:ss` from an hour on.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s / 3600 {
        0 => format!("{}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", s / 60 % 60, s % 60),
    }
}

fn budget_steps(seconds: f64, per_step: f64, batch: usize, val_images: usize, steps_per_epoch: u64) -> u64 {
    let per_val = per_step * val_images as f64 / batch as f64 / 3.0;
    let per_epoch = per_step * steps_per_epoch as f64 + per_val;
    let epochs = (seconds / per_epoch).max(0.0);
    let steps = (seconds - epochs.ceil() * per_val).max(0.0) / per_step;
    (steps as u64).max(1)
}

/// Fresh weights for a new run.
pub fn fresh(spec: &ModelSpec, hyper: Hyper, classes: Vec<String>) -> Checkpoint {
    let model: FloatModel = super::recipe::init(spec, hyper.recipe, hyper.seed);
    let momentum = vec![LayerParams::default(); model.layers.len()];
    Checkpoint { model, momentum, hyper, progress: TrainProgress::default(), classes, data: None }
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn clock_reads_like_a_timer() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(59.6), "1:00");
        assert_eq!(clock(30.0 * 60.0), "30:00");
        assert_eq!(clock(3600.0 + 62.0), "1:01:02");
        assert_eq!(clock(-3.0), "0:00");
    }
}
