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
