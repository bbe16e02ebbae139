//! `host train --resume` continues exactly: a run stopped mid-epoch and
//! resumed from its checkpoint ends with the same weights, bit for bit, as an
//! uninterrupted run with the same seed (CPU).

use dfdx::prelude::Cpu;
use host::data::{open, Dataset, DatasetKind, Split};
use host::train::checkpoint::Checkpoint;
use host::train::preprocess::Augment;
use host::train::recipe::{Hyper, RecipeKind};
use host::train::trainer::{checkpoint_path, fresh, train, TrainConfig};
use shared::spec::{AlexNetConfig, Normalize, Shape};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alexnet-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn resumed_run_ends_with_the_same_weights() {
    let spec = AlexNetConfig::small(Shape::new(1, 24, 24), 10)
        .with_normalize(Normalize::FASHION_MNIST)
        .with_width(0.125)
        .build()
        .unwrap();
    let open_split = |split| -> Arc<dyn Dataset> {
        Arc::from(
            open(&DatasetKind::FashionMnist, None, split, 1).expect("Fashion-MNIST (scripts/setup.sh installs it)"),
        )
    };
    let (train_set, test_set) = (open_split(Split::Train), open_split(Split::Test));
    let mut hyper = Hyper::defaults(RecipeKind::Fast);
    hyper.epochs = 2;
    hyper.batch = 32;
    let config = |dir: PathBuf, stop| TrainConfig {
        spec: spec.clone(),
        hyper,
        augment: Augment { flip: true, ..Augment::NONE },
        minutes: None,
        run_dir: dir,
        workers: 2,
        train_limit: Some(320),
        val_limit: Some(64),
        checkpoint_every: Duration::from_secs(3600),
        stop_after_steps: stop,
    };
    let classes = train_set.classes().to_vec();
    let dev = Cpu::default();

    let whole = scratch("whole");
    train(
        &dev,
        &config(whole.clone(), None),
        train_set.clone(),
        test_set.clone(),
        fresh(&spec, hyper, classes.clone()),
    )
    .unwrap();

    let split = scratch("split");
    let first = train(
        &dev,
        &config(split.clone(), Some(13)),
        train_set.clone(),
        test_set.clone(),
        fresh(&spec, hyper, classes),
    )
    .unwrap();
    assert_eq!(first.progress.step, 13);
    assert_eq!((first.progress.epoch, first.progress.batch_in_epoch), (1, 3), "stopped mid-epoch 2");
    let resumed = Checkpoint::load(&checkpoint_path(&split)).unwrap();
    train(&dev, &config(split.clone(), None), train_set, test_set, resumed).unwrap();

    let a = Checkpoint::load(&checkpoint_path(&whole)).unwrap();
    let b = Checkpoint::load(&checkpoint_path(&split)).unwrap();
    assert_eq!(a.progress.step, 20);
    assert_eq!(b.progress.step, 20);
    assert!(a.model == b.model, "weights differ after resuming");
    assert!(a.momentum == b.momentum, "momentum differs after resuming");
    let _ = std::fs::remove_dir_all(whole);
    let _ = std::fs::remove_dir_all(split);
}

/// `host train` killed with SIGKILL (no destructor, no cleanup) at ten
/// seeded points, resumed each time, ends with the weights of a run that was
/// never interrupted, and its checkpoint loads after every kill. Checkpoints
/// are written after every step here, so kills also land in and around
/// their writes (temporary file, fsync, rename).
#[test]
fn training_killed_ten_times_ends_with_the_same_weights() {
    use shared::float::SplitMix64;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    let run = |args: &[String]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
        cmd.arg("train").args(args).args(["--checkpoint-minutes", "0", "--workers", "2"]);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    };
    // 60 steps: ten sessions of 1-4 steps each stay inside the run.
    let fresh_args = |out: &str| {
        let args = ["--input", "1x24x24", "--width", "0.125", "--epochs", "6", "--batch", "32"];
        let limits = ["--train-limit", "320", "--val-limit", "64", "--out", out];
        args.iter().chain(&limits).map(|s| s.to_string()).collect::<Vec<_>>()
    };

    let whole = scratch("killed-whole");
    let status = run(&fresh_args(whole.to_str().unwrap())).status().unwrap();
    assert!(status.success(), "uninterrupted run: {status:?}");

    let cut = scratch("killed-cut");
    let cut_str = cut.to_str().unwrap().to_string();
    let step_of = |dir: &PathBuf| Checkpoint::load(&checkpoint_path(dir)).ok().map(|c| c.progress.step);
    let mut rng = SplitMix64::new(2012);
    let (mut kills, mut mid_training) = (0, 0);
    loop {
        let args = match step_of(&cut) {
            Some(_) => vec!["--resume".to_string(), cut_str.clone()],
            // Killed before its first checkpoint: start again.
            None => fresh_args(&cut_str),
        };
        let mut child = run(&args).spawn().unwrap();
        if kills == 10 {
            assert!(child.wait().unwrap().success(), "the last resume ends the run");
            break;
        }
        // A seeded number of steps past where this session starts, then kill.
        let start = step_of(&cut).unwrap_or(0);
        let target = start + 1 + rng.next_u64() % 4;
        let deadline = Instant::now() + Duration::from_secs(120);
        while step_of(&cut).unwrap_or(0) < target && child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "no progress past step {start}");
            std::thread::sleep(Duration::from_millis(2));
        }
        let running = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        mid_training += running as usize;
        // Whatever the kill interrupted, the checkpoint on disk loads.
        assert!(step_of(&cut).is_some(), "kill {kills}: no loadable checkpoint");
    }
    assert!(mid_training >= 8, "only {mid_training} of 10 kills landed while training ran");

    let a = Checkpoint::load(&checkpoint_path(&whole)).unwrap();
    let b = Checkpoint::load(&checkpoint_path(&cut)).unwrap();
    assert_eq!(a.progress.step, b.progress.step);
    assert!(a.model == b.model, "weights differ after ten kills");
    assert!(a.momentum == b.momentum, "momentum differs after ten kills");
    // Resuming a finished run says so and trains nothing.
    let out = Command::new(env!("CARGO_BIN_EXE_host")).args(["train", "--resume", &cut_str]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("is finished (6 of 6 epochs, step 60)"));
    assert_eq!(Checkpoint::load(&checkpoint_path(&cut)).unwrap(), b);
    let _ = std::fs::remove_dir_all(whole);
    let _ = std::fs::remove_dir_all(cut);
}
