//! Networks trained elsewhere on the virtual board: the PyTorch-made fixture
//! (tests/fixtures/torchvision_w16, see scripts/make_import_fixture.py)
//! imported from ONNX and quantized, and a torchvision-style network whose
//! adaptive average pool is a real layer (a 256x256 input leaves 7x7 maps
//! for the 6x6 pool), CaffeNet's pattern (pooling before LRN) with
//! ceil-mode pools that read their padding, and the Caffe-lineage CaffeNet
//! fixture (tests/fixtures/caffenet_w16, see scripts/make_caffe_fixtures.py)
//! imported from ONNX, and the model onnxruntime quantized
//! (tests/fixtures/torchvision_w16_int8, see
//! scripts/make_quantized_fixtures.py) imported as the int8 model file
//! itself. The board's top-5 equals host int8's bit for bit.

use e2e_tests::{assert_device_matches_host, boot, scratch_dir, shutdown};
use host::import::onnx_graph::{import_graph, import_onnx, GraphOptions, Imported};
use host::inference::calibrate;
use shared::format::AlignedBytes;
use shared::quantize::{quantize_fixed, quantize_named, RangeMethod};
use shared::spec::{AlexNetConfig, Layer, Normalize, Shape};
use shared::synthetic;
use std::path::Path;

fn fixture(name: &str) -> Vec<u8> {
    fixture_in("torchvision_w16", name)
}

fn fixture_in(folder: &str, name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(folder);
    std::fs::read(dir.join(name)).unwrap()
}

#[test]
fn pytorch_model_imported_from_onnx_runs_bit_exact_on_the_board() {
    let model = import_graph(&fixture("model.onnx"), &GraphOptions::default()).unwrap().model;
    let images: Vec<Vec<u8>> = fixture("inputs.u8").chunks_exact(model.spec.input.len()).map(<[u8]>::to_vec).collect();
    let cal = calibrate::collect(&model, &images, RangeMethod::MinMax);
    let names = String::from_utf8(fixture("labels.txt")).unwrap();
    let names: Vec<&str> = names.lines().collect();
    // With its class names, as `host quantize` writes it.
    let bytes = AlignedBytes::new(&quantize_named(&model, &cal, Some(&names)).unwrap());
    let (qemu, mut client, info) = boot(&scratch_dir("imported_pytorch"), &bytes);
    assert_eq!(info.model.expect("model accepted").input, model.spec.input);
    assert_device_matches_host(&mut client, &bytes, &images, model.spec.input);
    // A photo-size image the board resizes itself.
    let photo = Shape::new(3, 300, 260);
    let large: Vec<u8> = (0..photo.len()).map(|i| ((i * 7) % 253) as u8).collect();
    assert_device_matches_host(&mut client, &bytes, &[large], photo);
    shutdown(qemu, client, 0);
}

#[path = "../fixtures/torchvision_w16_int8/images.rs"]
mod int8_images;

#[test]
fn model_quantized_by_onnxruntime_runs_bit_exact_on_the_board() {
    let Imported::Int8(int8) =
        import_onnx(&fixture_in("torchvision_w16_int8", "qdq_u8.onnx"), &GraphOptions::default()).unwrap()
    else {
        panic!("the QDQ fixture imported as a float network")
    };
    let input = int8.spec.input;
    let bytes = AlignedBytes::new(&quantize_fixed(&int8.spec, int8.quant, None::<&[&str]>).unwrap());
    let images: Vec<Vec<u8>> = (0..4).map(int8_images::image).collect();
    let (qemu, mut client, info) = boot(&scratch_dir("imported_int8"), &bytes);
    assert_eq!(info.model.expect("model accepted").input, input);
    assert_device_matches_host(&mut client, &bytes, &images, input);
    shutdown(qemu, client, 0);
}

#[test]
fn adaptive_average_pool_runs_bit_exact_on_the_board() {
    let mut cfg = AlexNetConfig::torchvision().with_width(1.0 / 16.0);
    (cfg.input, cfg.classes, cfg.fc_features) = (Shape::new(3, 256, 256), 10, [64, 64]);
    let spec = cfg.build().unwrap();
    assert!(spec.layers.iter().any(|l| matches!(l, Layer::AvgPool(_))));
    let (_, bytes) = synthetic::random_model(&spec, 7, 4).unwrap();
    let bytes = AlignedBytes::new(&bytes);
    let (qemu, mut client, _) = boot(&scratch_dir("adaptive_pool"), &bytes);
    assert_device_matches_host(&mut client, &bytes, &synthetic::images(&spec, 3, 9), spec.input);
    shutdown(qemu, client, 0);
}

#[test]
fn padded_ceil_mode_pools_before_lrn_run_bit_exact_on_the_board() {
    // At 103x103 each of CaffeNet's ceil-mode pools takes an extra row and
    // column (24 -> 12, 12 -> 6, 6 -> 3), padding that must never win.
    let mut cfg = AlexNetConfig::caffenet().with_width(1.0 / 16.0);
    (cfg.input, cfg.classes, cfg.fc_features) = (Shape::new(3, 103, 103), 10, [64, 64]);
    let spec = cfg.build().unwrap();
    let padded = |l: &Layer| matches!(l, Layer::MaxPool(p) if p.pads == [0, 0, 1, 1]);
    assert_eq!(spec.layers.iter().filter(|l| padded(l)).count(), 3);
    let (_, bytes) = synthetic::random_model(&spec, 34, 4).unwrap();
    let bytes = AlignedBytes::new(&bytes);
    let (qemu, mut client, _) = boot(&scratch_dir("padded_pools"), &bytes);
    assert_device_matches_host(&mut client, &bytes, &synthetic::images(&spec, 4, 5), spec.input);
    shutdown(qemu, client, 0);
}

#[test]
fn caffenet_imported_from_onnx_runs_bit_exact_on_the_board() {
    let caffe = Normalize::from_channels(&[104.0, 117.0, 123.0], &[1.0; 3]);
    let options = GraphOptions { normalize: caffe, ..GraphOptions::default() };
    let model = import_graph(&fixture_in("caffenet_w16", "model.onnx"), &options).unwrap().model;
    let padded = |l: &Layer| matches!(l, Layer::MaxPool(p) if p.is_padded());
    assert_eq!(model.spec.layers.iter().filter(|l| padded(l)).count(), 3);
    let images: Vec<Vec<u8>> =
        fixture_in("caffenet_w16", "inputs.u8").chunks_exact(model.spec.input.len()).map(<[u8]>::to_vec).collect();
    let cal = calibrate::collect(&model, &images, RangeMethod::MinMax);
    let bytes = AlignedBytes::new(&quantize_named(&model, &cal, None::<&[&str]>).unwrap());
    let (qemu, mut client, _) = boot(&scratch_dir("imported_caffenet"), &bytes);
    let mut all = images.clone();
    all.extend(synthetic::images(&model.spec, 4, 11));
    assert_device_matches_host(&mut client, &bytes, &all, model.spec.input);
    shutdown(qemu, client, 0);
}
