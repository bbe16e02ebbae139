//! The whole loop on real data: train a small AlexNet on Fashion-MNIST (a
//! short run), quantize it, and check that the virtual board's answers on 100
//! test images are bit-identical to the host's int8 inference, and that the
//! model learned something.

use e2e_tests::scratch_dir;
use host::board::firmware_image::{self, BoardKind};
use host::board::qemu::QemuOptions;
use host::board::session::{run_images_on_boards, Target, TestImage};
use host::commands::compare::compare;
use host::data::{open, DatasetKind, Split};
use host::inference::HostEngine;
use host::train::preprocess::{eval_pixels, Augment, InputGeometry};
use host::train::recipe::{Hyper, RecipeKind};
use host::train::trainer::{fresh, train, TrainConfig};
use shared::format::AlignedBytes;
use shared::quantize::{quantize, Calibration, RangeMethod};
use shared::spec::{AlexNetConfig, Normalize, Shape};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn trained_model_on_the_virtual_board_matches_host_int8_on_100_images() {
    let dir = scratch_dir("trained_model");
    let spec = AlexNetConfig::small(Shape::new(1, 32, 32), 10)
        .with_normalize(Normalize::FASHION_MNIST)
        .with_width(0.5)
        .build()
        .unwrap();
    let train_set: Arc<dyn host::data::Dataset> = Arc::from(
        open(&DatasetKind::FashionMnist, None, Split::Train, 1).expect("Fashion-MNIST (scripts/setup.sh installs it)"),
    );
    let test_set: Arc<dyn host::data::Dataset> =
        Arc::from(open(&DatasetKind::FashionMnist, None, Split::Test, 1).unwrap());
    let mut hyper = Hyper::defaults(RecipeKind::Fast);
    hyper.epochs = 1;
    let config = TrainConfig {
        spec: spec.clone(),
        hyper,
        augment: Augment { flip: true, ..Augment::NONE },
        minutes: None,
        run_dir: dir.join("run"),
        workers: 2,
        train_limit: Some(6000),
        val_limit: Some(500),
        checkpoint_every: Duration::from_secs(3600),
        stop_after_steps: None,
    };
    let start = fresh(&spec, hyper, train_set.classes().to_vec());
    let outcome = train(&dfdx::prelude::Cpu::default(), &config, train_set.clone(), test_set.clone(), start).unwrap();
    let ckpt = host::train::checkpoint::Checkpoint::load(&outcome.checkpoint).unwrap();

    // Float (dfdx) against tract on the exported ONNX, whole test set.
    let test_inputs: Vec<Vec<u8>> =
        (0..test_set.len()).map(|i| eval_pixels(&test_set.image(i).unwrap(), InputGeometry::of(&spec), true)).collect();
    let onnx = dir.join("model.onnx");
    host::onnx::export(&ckpt.model, &onnx).unwrap();
    let tract = HostEngine::Tract { onnx: &onnx, spec: &spec }.run(&test_inputs).unwrap();
    let float = HostEngine::Float(&ckpt.model).run(&test_inputs).unwrap().top5;
    let same = float.iter().zip(&tract.top5).filter(|(f, t)| f[0] == t[0]).count();
    println!("float vs tract: same top-1 on {same} of {} test images", float.len());
    assert!(same * 1000 >= float.len() * 999, "float and tract agree on only {same} of {}", float.len());

    let calibration: Vec<Vec<u8>> =
        (0..200).map(|i| eval_pixels(&train_set.image(i * 50).unwrap(), InputGeometry::of(&spec), true)).collect();
    let cal = Calibration::collect(&ckpt.model, calibration.iter().map(|v| v.as_slice()), RangeMethod::MinMax);
    let bytes = AlignedBytes::new(&quantize(&ckpt.model, &cal).unwrap());
    let model_path = dir.join("model.axq");
    std::fs::write(&model_path, &bytes[..]).unwrap();
    let image = dir.join("qemu.img");
    firmware_image::build(&model_path, BoardKind::QemuRpi3, &image, shared::settings::FLASH_BAUD).unwrap();

    // Native 28x28 images: the board resizes them exactly as the host does.
    let images: Vec<TestImage> = (0..100)
        .map(|i| {
            let img = test_set.image(i).unwrap();
            TestImage { pixels: img.pixels, shape: img.shape, label: test_set.label(i) }
        })
        .collect();
    // Two virtual boards, as `host run` uses by default on two cores: each
    // takes half of the images and the report comes back in image order.
    let target = Target::Qemu { image, options: QemuOptions::default() };
    let checksum = shared::Model::parse(&bytes).unwrap().checksum();
    let report = run_images_on_boards(&target, 2, checksum, &images, host::board::session::BOOT_TIMEOUT).unwrap();
    assert!(report.images.iter().enumerate().all(|(i, r)| r.index == i && r.label == images[i].label));

    let cmp = compare(&bytes, None, &report, &images).unwrap();
    print!("{}", host::commands::compare::table(&cmp));
    assert_eq!(cmp.images, 100);
    assert_eq!(cmp.bit_exact, 100, "device differs from host int8 on {:?}", cmp.mismatches);
    // Chance is 10%; a few hundred steps on Fashion-MNIST reach far more.
    assert!(cmp.device.top1_pct() >= 50.0, "device top-1 {:.1}%", cmp.device.top1_pct());
}
