//! Training on real Fashion-MNIST images: the loss falls when the network
//! fits a small batch, and a diverging run stops with a clear error and
//! leaves the last good checkpoint as it was.

use dfdx::prelude::Cpu;
use host::data::{open, Dataset, DatasetKind, Split};
use host::error::HostError;
use host::train::checkpoint::Checkpoint;
use host::train::model::AlexNet;
use host::train::optim::Sgd;
use host::train::preprocess::{normalize_batch, Augment};
use host::train::recipe::{Hyper, RecipeKind};
use host::train::step::StepDevice;
use host::train::step::StepInput;
use host::train::trainer::{checkpoint_path, fresh, train, TrainConfig};
use shared::spec::{AlexNetConfig, ModelSpec, Normalize, Shape};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn spec() -> ModelSpec {
    // 28x28 is Fashion-MNIST's own size: the images need no resizing.
    AlexNetConfig::small(Shape::new(1, 28, 28), 10)
        .with_normalize(Normalize::FASHION_MNIST)
        .with_width(0.125)
        .build()
        .unwrap()
}

fn split(split: Split) -> Arc<dyn Dataset> {
    Arc::from(open(&DatasetKind::FashionMnist, None, split, 1).expect("Fashion-MNIST (scripts/setup.sh installs it)"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alexnet-train-checks-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn loss_falls_on_a_small_real_batch() {
    let spec = spec();
    let set = split(Split::Train);
    let images: Vec<_> = (0..32).map(|i| set.image(i).unwrap()).collect();
    let labels: Vec<u32> = (0..32).map(|i| set.label(i)).collect();
    let data = normalize_batch(&spec, images.iter().map(|img| img.pixels.as_slice()));
    let mut hyper = Hyper::defaults(RecipeKind::Fast);
    hyper.dropout = 0.0;
    hyper.label_smoothing = 0.0;
    let dev = Cpu::default();
    let start = fresh(&spec, hyper, set.classes().to_vec());
    let mut net = AlexNet::from_float(&start.model, &dev);
    let mut sgd = Sgd::new(&net, hyper.momentum, 0.0);
    let mut losses = Vec::new();
    for step in 0..30 {
        let input = StepInput { spec: &spec, data: &data, labels: &labels, hyper: &hyper, step };
        let out = Cpu::step_gradients(&net, &dev, &input);
        losses.push(out.loss);
        sgd.step(&mut net, &out.grads, 0.01);
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    // ln 10 = 2.30 is chance; fitting 32 images drives the loss far below it.
    assert!(first > 1.5, "an untrained network starts near chance: {first}");
    assert!(last < 0.5 * first, "loss did not fall: {losses:?}");
}

#[test]
fn a_diverging_run_stops_and_keeps_the_last_good_checkpoint() {
    let spec = spec();
    let (train_set, test_set) = (split(Split::Train), split(Split::Test));
    let mut hyper = Hyper::defaults(RecipeKind::Fast);
    hyper.epochs = 1;
    hyper.batch = 16;
    let dir = scratch("diverge");
    let config = |stop| TrainConfig {
        spec: spec.clone(),
        hyper,
        augment: Augment::NONE,
        minutes: None,
        run_dir: dir.clone(),
        workers: 2,
        train_limit: Some(160),
        val_limit: Some(32),
        checkpoint_every: Duration::from_secs(3600),
        stop_after_steps: stop,
    };
    let dev = Cpu::default();
    let start = fresh(&spec, hyper, train_set.classes().to_vec());
    train(&dev, &config(Some(3)), train_set.clone(), test_set.clone(), start).unwrap();
    let good = std::fs::read(checkpoint_path(&dir)).unwrap();

    // Resumed with a NaN in the logits layer's bias (no ReLU after it can
    // hide it), the very next loss is NaN: what a run that blows up sees.
    let mut resumed = Checkpoint::load(&checkpoint_path(&dir)).unwrap();
    resumed.model.layers.iter_mut().rev().find(|l| !l.bias.is_empty()).unwrap().bias[0] = f32::NAN;
    let err = train(&dev, &config(None), train_set, test_set, resumed).err().expect("training must stop");
    let HostError::Diverged { step, checkpoint, .. } = &err else { panic!("expected Diverged, got {err}") };
    assert_eq!(*step, 3, "stops at the first non-finite loss");
    assert_eq!(checkpoint, &checkpoint_path(&dir));
    let message = err.to_string();
    assert!(message.contains("checkpoint"), "the message names the checkpoint: {message}");
    assert_eq!(std::fs::read(checkpoint_path(&dir)).unwrap(), good, "the good checkpoint was overwritten");
    let kept = Checkpoint::load(&checkpoint_path(&dir)).unwrap();
    assert!(kept.model.layers.iter().all(|l| l.weights.iter().chain(&l.bias).all(|v| v.is_finite())));
    let _ = std::fs::remove_dir_all(dir);
}

/// `host bench-train` on a tiny network: the ceilings (the training GEMM's,
/// named, and the FMA peak), then one line per kernel set, with images/s,
/// GFLOP/s against the GEMM ceiling, the peak RSS and the page faults per
/// step.
#[test]
fn bench_train_reports_both_kernel_sets() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["bench-train", "--input", "1x28x28", "--width", "0.125", "--batch", "4"])
        .args(["--steps", "1", "--released-steps", "1"])
        .output()
        .expect("run host");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let line =
        |start: &str| text.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no {start:?} in {text}"));
    line("network 1x28x28 -> 10 classes");
    let ceiling = line("GEMM ceiling");
    // With OpenBLAS, the kernels it runs are named: they decide AVX2 or AVX-512.
    let library = if cfg!(feature = "openblas") {
        let core = ceiling.split("(OpenBLAS, ").nth(1).and_then(|rest| rest.split(" kernels; gemm 0.15 ").next());
        core.is_some_and(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()))
    } else {
        ceiling.contains("(gemm 0.15)")
    };
    // The FMA peak names the vectors it was timed with (none before AVX2).
    let fma_isa = ceiling.contains("GFLOP/s (AVX") || ceiling.ends_with("FMA peak unknown");
    assert!(library && ceiling.contains("FMA peak") && fma_isa, "{text}");
    let this = line("this build:");
    for part in ["img/s", "% of the GEMM ceiling", "peak RSS", "page faults/step"] {
        assert!(this.contains(part), "no {part:?} in {text}");
    }
    // The rate is a median of timed steps after a warm-up to a steady time.
    let timing = line("  step time: median of 1 steps after ");
    assert!(timing.contains("warm-up") && timing.contains("min ") && timing.contains("max "), "{text}");
    assert!(line("released kernels:").contains("x faster"), "{text}");
}
