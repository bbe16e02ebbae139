//! `host import` against PyTorch itself and against our own exporter.
//!
//! The fixture in tests/fixtures/torchvision_w16 was made by
//! scripts/make_import_fixture.py (its manifest.json records the PyTorch
//! version and exporter): a torchvision-style AlexNet at 1/16 width with
//! seeded weights, exported to ONNX and saved as a safetensors state_dict,
//! with four images and PyTorch's logits for them. Those in
//! tests/fixtures/bvlc_alexnet_w16 and caffenet_w16 were made by
//! scripts/make_caffe_fixtures.py: the ONNX model zoo's Caffe AlexNets
//! (opsets 9 and 10, padded and ceil-mode pooling, CaffeNet's pooling
//! before LRN) at 1/16 width, with onnxruntime's logits. Those in
//! tests/fixtures/torchvision_w16_int8 were made by
//! scripts/make_quantized_fixtures.py: the first network quantized by
//! onnxruntime's quantize_static (QDQ and QOperator), with onnxruntime's int8
//! outputs for 200 images that images.rs there makes.

use host::import::onnx_graph::{import_graph, import_onnx, GraphOptions, Imported, ImportedInt8};
use host::import::state_dict::import_state_dict;
use host::onnx::proto::{AttributeProto, ModelProto, NodeProto, OperatorSetIdProto};
use host::onnx::to_onnx;
use prost::Message;
use shared::float::FloatModel;
use shared::spec::{AlexNetConfig, Layer, PoolSpec, Shape};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    fixture_in("torchvision_w16", name)
}

fn fixture_in(folder: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(folder).join(name)
}

/// A fixture's four images (uint8 CHW) and the logits its tool gave for
/// them (10 classes).
fn reference(folder: &str, input: Shape) -> (Vec<Vec<u8>>, Vec<Vec<f32>>) {
    let pixels = std::fs::read(fixture_in(folder, "inputs.u8")).unwrap();
    let images: Vec<Vec<u8>> = pixels.chunks_exact(input.len()).map(<[u8]>::to_vec).collect();
    let raw = std::fs::read(fixture_in(folder, "logits.f32")).unwrap();
    let values: Vec<f32> = raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    assert_eq!((images.len(), values.len()), (4, 40), "{folder}");
    (images, values.chunks(10).map(<[f32]>::to_vec).collect())
}

/// The fixture's images (uint8 CHW) and PyTorch's logits for them.
fn pytorch_reference() -> (Vec<Vec<u8>>, Vec<Vec<f32>>) {
    reference("torchvision_w16", Shape::new(3, 224, 224))
}

fn assert_matches_pytorch(model: &FloatModel, what: &str) {
    let (images, want) = pytorch_reference();
    for (i, (image, want)) in images.iter().zip(&want).enumerate() {
        let got = model.forward(image);
        let worst = got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
        assert!(worst <= 1e-4, "{what}, image {i}: worst |diff| {worst}: {got:?} vs PyTorch {want:?}");
    }
}

#[test]
fn pytorch_onnx_export_imports_and_matches_pytorchs_logits() {
    let imported = import_graph(&std::fs::read(fixture("model.onnx")).unwrap(), &GraphOptions::default()).unwrap();
    let spec = &imported.model.spec;
    assert_eq!(spec.input, Shape::new(3, 224, 224));
    assert_eq!(spec.param_count(), 102_734);
    // torchvision's pattern: no LRN, no groups, and the 6x6 average pool is
    // an identity at 224 (noted, not a layer).
    assert!(spec.layers.iter().all(|l| !matches!(l, Layer::Lrn(_) | Layer::AvgPool(_))));
    assert!(imported.notes.iter().any(|n| n.contains("identity")), "{:?}", imported.notes);
    assert_matches_pytorch(&imported.model, "ONNX import");
}

#[test]
fn pytorch_state_dict_imports_to_the_same_network_as_its_onnx() {
    let bytes = std::fs::read(fixture("model.safetensors")).unwrap();
    let (model, notes) = import_state_dict(&bytes, AlexNetConfig::torchvision()).unwrap();
    assert!(notes.iter().any(|n| n.contains("torchvision's names")), "{notes:?}");
    assert_matches_pytorch(&model, "state_dict import");
    let onnx = import_graph(&std::fs::read(fixture("model.onnx")).unwrap(), &GraphOptions::default()).unwrap().model;
    assert_eq!(model.layers, onnx.layers, "the same weights by either path");
    // The paper's pattern (LRN, groups) cannot hold these weights.
    let err = import_state_dict(&bytes, AlexNetConfig::paper()).unwrap_err().to_string();
    assert!(err.contains("features.3.weight") && err.contains("shape"), "{err}");
}

/// The layers as ONNX carries them: without dropout (a training flag), and
/// LRN's alpha to 6 digits (ONNX multiplies it by the window size, and no
/// float32 times 5 divides back to exactly 1e-4).
fn inference_layers(model: &FloatModel) -> Vec<Layer> {
    let mut layers: Vec<Layer> = model.spec.layers.iter().copied().collect();
    for l in &mut layers {
        match l {
            Layer::Dense(d) => d.dropout = false,
            Layer::Lrn(n) => n.alpha = format!("{:.5e}", n.alpha).parse().unwrap(),
            _ => {}
        }
    }
    layers
}

#[test]
fn export_then_import_gives_the_same_network_and_outputs() {
    let torchvision = |side: u32| {
        let mut cfg = AlexNetConfig::torchvision().with_width(1.0 / 16.0);
        (cfg.input, cfg.classes, cfg.fc_features) = (Shape::new(3, side, side), 5, [32, 32]);
        cfg
    };
    let configs = [
        AlexNetConfig::small(Shape::new(1, 28, 28), 10).with_width(0.25),
        AlexNetConfig::paper().with_width(0.0625),
        // 7x7 to 6x6: overlapping windows, exported as a product.
        torchvision(256),
        // 12x12 to 6x6: whole windows, exported as AveragePool.
        torchvision(415),
        // Pooling before LRN, ceil-mode pools exported with their padding.
        AlexNetConfig { input: Shape::new(3, 103, 103), ..AlexNetConfig::caffenet().with_width(0.0625) },
    ];
    for (k, cfg) in configs.into_iter().enumerate() {
        let spec = cfg.build().unwrap();
        let original = FloatModel::random(&spec, 40 + k as u64);
        let bytes = to_onnx(&original).encode_to_vec();
        let imported = import_graph(&bytes, &GraphOptions::default()).unwrap().model;
        assert_eq!(inference_layers(&imported), inference_layers(&original), "config {k}");
        assert_eq!(imported.spec.input, spec.input, "config {k}");
        let (c, (n, m)) = (spec.input.c as usize, (imported.spec.normalize, spec.normalize));
        assert_eq!((&n.mean[..c], &n.std[..c]), (&m.mean[..c], &m.std[..c]), "config {k}: from the metadata");
        assert_eq!(imported.layers, original.layers, "config {k}");
        for image in shared::synthetic::images(&spec, 2, 7) {
            let (got, want) = (imported.forward(&image), original.forward(&image));
            let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
            assert!(worst <= 1e-6 * scale, "config {k}: {got:?} vs {want:?}");
        }
    }
}

fn host(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host")).args(args).output().expect("run host")
}

fn one_error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

#[test]
fn malformed_and_unsupported_onnx_files_get_clear_errors() {
    let dir = std::env::temp_dir().join(format!("alexnet-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.safetensors");
    let out = out.to_str().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    };
    let spec = AlexNetConfig::small(Shape::new(1, 28, 28), 10).with_width(0.125).build().unwrap();
    let good = to_onnx(&FloatModel::random(&spec, 1));

    let garbage = write("garbage.onnx", b"\x08\x07 this is not protobuf \xff\xff\xff");
    assert!(one_error_line(&host(&["import", "--onnx", &garbage, "--out", out])).contains("not an ONNX model"));

    let mut old = good.clone();
    old.opset_import = vec![OperatorSetIdProto { domain: String::new(), version: 6 }];
    let old = write("opset6.onnx", &old.encode_to_vec());
    let err = one_error_line(&host(&["import", "--onnx", &old, "--out", out]));
    assert!(err.contains("opset 6") && err.contains("7 to 23"), "{err}");

    // An operator the board does not run, in the middle of the chain.
    let mut odd: ModelProto = good.clone();
    let graph = odd.graph.as_mut().unwrap();
    let at = graph.node.iter().position(|n| n.op_type == "MaxPool").unwrap();
    let input = graph.node[at].input[0].clone();
    graph.node[at].input[0] = "squashed".into();
    let sigmoid = NodeProto {
        op_type: "Sigmoid".into(),
        name: "squash".into(),
        input: vec![input],
        output: vec!["squashed".into()],
        ..Default::default()
    };
    graph.node.insert(at, sigmoid);
    let odd = write("sigmoid.onnx", &odd.encode_to_vec());
    let err = one_error_line(&host(&["import", "--onnx", &odd, "--out", out]));
    assert!(err.contains("node 'squash': operator Sigmoid is not supported") && err.contains("Conv"), "{err}");

    // Padding as wide as the window: a supported operator with an attribute
    // value it cannot run (a window all padding has no maximum).
    let mut padded = good.clone();
    let graph = padded.graph.as_mut().unwrap();
    let pool = graph.node.iter_mut().find(|n| n.op_type == "MaxPool").unwrap();
    pool.attribute.iter_mut().find(|a| a.name == "pads").unwrap().ints = vec![0, 0, 3, 3];
    let name = pool.name.clone();
    let padded = write("padded.onnx", &padded.encode_to_vec());
    let err = one_error_line(&host(&["import", "--onnx", &padded, "--out", out]));
    let want =
        format!("node '{name}' (MaxPool): pads [0, 0, 3, 3]: each must be at least 0 and less than the kernel 3");
    assert!(err.contains(&want), "{err}");

    // Normalization metadata for fewer channels than the input has is
    // refused (the rest would go unnormalized); --mean/--std override it.
    let mut short = good.clone();
    for p in short.metadata_props.iter_mut().filter(|p| p.key.starts_with("normalize_")) {
        p.value = "[1.0, 2.0]".into();
    }
    assert_eq!(short.metadata_props.iter().filter(|p| p.value == "[1.0, 2.0]").count(), 2);
    let short = write("short-normalize.onnx", &short.encode_to_vec());
    let err = one_error_line(&host(&["import", "--onnx", &short, "--out", out]));
    assert!(err.contains("give 2 and 2 values for a 1-channel input; give --mean and --std"), "{err}");
    let ok = host(&["import", "--onnx", &short, "--mean", "70", "--std", "90", "--out", out]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    // The good file imports, and its checkpoint evaluates like one from training.
    let good = write("good.onnx", &good.encode_to_vec());
    let ok = host(&["import", "--onnx", &good, "--out", out]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let ckpt = host::train::checkpoint::Checkpoint::load(Path::new(out)).unwrap();
    assert_eq!(ckpt.model.spec.input, spec.input);
    assert_eq!(ckpt.classes.len(), 10);

    // A mean and std per channel, or the import is refused.
    let wrong = vec!["100"; spec.input.c as usize + 1].join(",");
    let err = one_error_line(&host(&["import", "--onnx", &good, "--mean", &wrong, "--std", &wrong, "--out", out]));
    let expected = format!(
        "give {} values, but the network's input {} has {} channels",
        spec.input.c + 1,
        spec.input,
        spec.input.c
    );
    assert!(err.contains(&expected), "{err}");

    // A state_dict of another network than --arch is refused, by its metadata.
    let fixture_sd = fixture("model.safetensors");
    let err = one_error_line(&host(&[
        "import",
        "--state-dict",
        fixture_sd.to_str().unwrap(),
        "--arch",
        "paper",
        "--out",
        out,
    ]));
    assert!(err.contains("trained as --arch torchvision, not --arch paper"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What scripts/train_ddp.py writes: this project's names under DDP's
/// `module.` prefix, and the network's input and preprocessing in the
/// metadata, which `import` takes when no flag overrides it.
#[test]
fn a_ddp_state_dict_brings_its_input_and_preprocessing() {
    use safetensors::tensor::{Dtype, TensorView};
    let mut cfg = AlexNetConfig::paper().with_width(0.0625);
    (cfg.input, cfg.classes) = (Shape::new(3, 99, 99), 4);
    let spec = cfg.build().unwrap();
    let model = FloatModel::random(&spec, 8);
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (info, p) in spec.walk().zip(&model.layers) {
        let Some(shape) = host::train::checkpoint::weight_shape(&info) else { continue };
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        tensors.push((format!("module.{}.weight", info.name), shape.clone(), bytes(&p.weights)));
        tensors.push((format!("module.{}.bias", info.name), vec![shape[0]], bytes(&p.bias)));
    }
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(n, s, b)| (n.clone(), TensorView::new(Dtype::F32, s.clone(), b).unwrap())).collect();
    let metadata = [
        ("arch", "paper"),
        ("input", "[3, 99, 99]"),
        ("mean", "[120.0, 110.0, 100.0]"),
        ("std", "[60.0, 50.0, 40.0]"),
        ("resize_short_side", "112"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let bytes = safetensors::serialize(views, Some(metadata.iter().cloned().collect())).unwrap();
    let dir = std::env::temp_dir().join(format!("alexnet-import-ddp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (file, out) = (dir.join("ddp.safetensors"), dir.join("ckpt.safetensors"));
    std::fs::write(&file, bytes).unwrap();
    let (file, out_s) = (file.to_str().unwrap(), out.to_str().unwrap());

    let err = one_error_line(&host(&["import", "--state-dict", file, "--arch", "torchvision", "--out", out_s]));
    assert!(err.contains("trained as --arch paper"), "{err}");
    let ok = host(&["import", "--state-dict", file, "--arch", "paper", "--out", out_s]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let ckpt = host::train::checkpoint::Checkpoint::load(&out).unwrap();
    let got = &ckpt.model.spec;
    assert_eq!((got.input, got.resize, got.normalize.mean[..3].to_vec()), (spec.input, 112, vec![120.0, 110.0, 100.0]));
    assert_eq!(ckpt.model.layers, model.layers);

    // A header whose mean/std lists are shorter than the input's channels is
    // refused (the rest would be left unnormalized); --mean/--std override it.
    let short: Vec<(String, String)> = metadata
        .iter()
        .map(|(k, v)| match k.as_str() {
            "mean" => (k.clone(), "[120.0, 110.0]".to_string()),
            "std" => (k.clone(), "[60.0, 50.0]".to_string()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(n, s, b)| (n.clone(), TensorView::new(Dtype::F32, s.clone(), b).unwrap())).collect();
    std::fs::write(file, safetensors::serialize(views, Some(short.into_iter().collect())).unwrap()).unwrap();
    let err = one_error_line(&host(&["import", "--state-dict", file, "--arch", "paper", "--out", out_s]));
    assert!(err.contains("header gives 2 mean/std values, but the network's input 3x99x99 has 3 channels"), "{err}");
    let flags = ["--mean", "1,2,3", "--std", "4,5,6"];
    let ok = host(&[&["import", "--state-dict", file, "--arch", "paper", "--out", out_s][..], &flags].concat());
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Moves every initializer of `model` into `data` (one file, tensors end to
/// end, offset and length recorded), as exporters do for models over 2 GB
/// and PyTorch's default exporter does for AlexNet.
fn to_external_data(model: &mut ModelProto, location: &str, data: &mut Vec<u8>) {
    use host::onnx::proto::StringStringEntryProto;
    let entry = |key: &str, value: String| StringStringEntryProto { key: key.into(), value };
    for t in &mut model.graph.as_mut().unwrap().initializer {
        let bytes = std::mem::take(&mut t.raw_data);
        t.external_data = vec![
            entry("location", location.into()),
            entry("offset", data.len().to_string()),
            entry("length", bytes.len().to_string()),
        ];
        t.data_location = 1;
        data.extend_from_slice(&bytes);
        // Aligned as onnx's own converter aligns them.
        data.resize(data.len().next_multiple_of(64), 0);
    }
}

#[test]
fn weights_in_an_external_data_file_import_as_embedded_ones() {
    let dir = std::env::temp_dir().join(format!("alexnet-external-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spec = AlexNetConfig::paper().with_width(0.0625).build().unwrap();
    let original = FloatModel::random(&spec, 77);
    let mut model = to_onnx(&original);
    let mut data = Vec::new();
    to_external_data(&mut model, "model.onnx.data", &mut data);
    std::fs::write(dir.join("model.onnx"), model.encode_to_vec()).unwrap();
    std::fs::write(dir.join("model.onnx.data"), &data).unwrap();

    let options = GraphOptions { folder: Some(dir.clone()), ..GraphOptions::default() };
    let imported = import_graph(&std::fs::read(dir.join("model.onnx")).unwrap(), &options).unwrap().model;
    assert_eq!(imported.layers, original.layers);
    // The CLI resolves the data file against the model's folder.
    let onnx = dir.join("model.onnx");
    let out = dir.join("imported.safetensors");
    let ok = host(&["import", "--onnx", onnx.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    // A short data file, a missing one and a location outside the folder:
    // one error line each, naming the tensor and the file.
    std::fs::write(dir.join("model.onnx.data"), &data[..data.len() / 2]).unwrap();
    let short = one_error_line(&host(&["import", "--onnx", onnx.to_str().unwrap(), "--out", out.to_str().unwrap()]));
    assert!(short.contains("model.onnx.data holds") && short.contains("tensor '"), "{short}");
    std::fs::remove_file(dir.join("model.onnx.data")).unwrap();
    let missing = one_error_line(&host(&["import", "--onnx", onnx.to_str().unwrap(), "--out", out.to_str().unwrap()]));
    assert!(missing.contains("external data file") && missing.contains("model.onnx.data"), "{missing}");
    let mut escaping = to_onnx(&original);
    to_external_data(&mut escaping, "../elsewhere.data", &mut Vec::new());
    let escape = import_graph(&escaping.encode_to_vec(), &options).unwrap_err().to_string();
    assert!(escape.contains("'../elsewhere.data' is not a path inside the model's folder"), "{escape}");
    // Given as bytes, with no folder to look in: refused, not guessed.
    let nowhere = import_graph(&model.encode_to_vec(), &GraphOptions::default()).unwrap_err().to_string();
    assert!(nowhere.contains("the model's folder is not known"), "{nowhere}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn opsets_7_to_23_import_where_the_operators_mean_the_same() {
    // torchvision's pattern at 415x415: its 12x12 -> 6x6 pool is exported as an AveragePool.
    let mut cfg = AlexNetConfig::torchvision().with_width(1.0 / 16.0);
    (cfg.input, cfg.classes, cfg.fc_features) = (Shape::new(3, 415, 415), 5, [32, 32]);
    let original = FloatModel::random(&cfg.build().unwrap(), 23);
    let at_opset = |version: i64| {
        let mut model = to_onnx(&original);
        model.opset_import = vec![OperatorSetIdProto { domain: String::new(), version }];
        model
    };
    for version in [7, 8, 9, 10, 11, 12, 19, 20, 23] {
        let imported = import_graph(&at_opset(version).encode_to_vec(), &GraphOptions::default())
            .unwrap_or_else(|e| panic!("opset {version}: {e}"));
        assert_eq!(imported.model.layers, original.layers, "opset {version}");
    }
    let newer = import_graph(&at_opset(24).encode_to_vec(), &GraphOptions::default()).unwrap_err().to_string();
    assert!(newer.contains("opset 24") && newer.contains("7 to 23"), "{newer}");
    // Opset 19 gave AveragePool dilations, which change what it computes: refused by name.
    let mut dilated = at_opset(19);
    let pool = dilated.graph.as_mut().unwrap().node.iter_mut().find(|n| n.op_type == "AveragePool").unwrap();
    let mut dilations = pool.attribute.iter().find(|a| a.name == "kernel_shape").unwrap().clone();
    (dilations.name, dilations.ints) = ("dilations".into(), vec![2, 2]);
    pool.attribute.push(dilations);
    let err = import_graph(&dilated.encode_to_vec(), &GraphOptions::default()).unwrap_err().to_string();
    assert!(err.contains("(AveragePool): dilated average pooling is not supported"), "{err}");
}

/// Caffe's preprocessing, as the fixtures record it: BGR means, std 1.
const CAFFE_MEAN: &str = "104,117,123";

/// Imports a Caffe fixture with `host import`, checks the float network
/// against onnxruntime's logits (within 1e-4 of the largest), quantizes it
/// and shows it with `host summary`; returns the summary.
fn import_caffe_fixture(folder: &str, input: Shape, dir: &Path) -> (FloatModel, String) {
    let onnx = fixture_in(folder, "model.onnx");
    let ckpt = dir.join(format!("{folder}.safetensors"));
    let ok = host(&[
        "import",
        "--onnx",
        onnx.to_str().unwrap(),
        "--mean",
        CAFFE_MEAN,
        "--std",
        "1,1,1",
        "--out",
        ckpt.to_str().unwrap(),
    ]);
    assert!(ok.status.success(), "{folder}: {}", String::from_utf8_lossy(&ok.stderr));
    let stdout = String::from_utf8_lossy(&ok.stdout).into_owned() + &String::from_utf8_lossy(&ok.stderr);
    assert!(stdout.contains("Softmax"), "{folder}: the dropped Softmax is noted: {stdout}");
    let model = host::train::checkpoint::Checkpoint::load(&ckpt).unwrap().model;
    assert_eq!(model.spec.input, input, "{folder}");
    let (images, want) = reference(folder, input);
    for (i, (image, want)) in images.iter().zip(&want).enumerate() {
        let got = model.forward(image);
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
        assert!(worst <= 1e-4 * scale, "{folder}, image {i}: worst |diff| {worst} of {scale}: {got:?} vs {want:?}");
    }
    // Quantized (calibrated on the fixture's images), then listed.
    let images_dir = dir.join(format!("{folder}-images"));
    std::fs::create_dir_all(&images_dir).unwrap();
    let model_file = dir.join(format!("{folder}.axq"));
    let q = quantize_on_images(&model, &images, &model_file);
    assert!(q > 0, "{folder}: quantized");
    let summary = host(&["summary", "--checkpoint", ckpt.to_str().unwrap()]);
    assert!(summary.status.success(), "{folder}: {}", String::from_utf8_lossy(&summary.stderr));
    (model, String::from_utf8_lossy(&summary.stdout).into_owned())
}

/// Quantizes `model` calibrated on `images` into `path`, as `host quantize`
/// does; returns the file's size.
fn quantize_on_images(model: &FloatModel, images: &[Vec<u8>], path: &Path) -> usize {
    let cal = host::inference::calibrate::collect(model, images, shared::quantize::RangeMethod::MinMax);
    let bytes = shared::quantize::quantize_named(model, &cal, None::<&[&str]>).unwrap();
    std::fs::write(path, &bytes).unwrap();
    let file = shared::format::AlignedBytes::new(&bytes);
    let parsed = shared::format::Model::parse(&file).unwrap();
    assert_eq!(parsed.spec(), &model.spec);
    bytes.len()
}

#[test]
fn bvlc_alexnet_at_opset_9_imports_and_matches_onnxruntime() {
    let dir = std::env::temp_dir().join(format!("alexnet-import-bvlc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (model, summary) = import_caffe_fixture("bvlc_alexnet_w16", Shape::new(3, 115, 115), &dir);
    // The BVLC order (LRN, then pooling), groups, and pool5 padded
    // [0, 0, 1, 1], where the padded row and column are read (6 -> 3).
    let pools: Vec<_> = model.spec.walk().filter(|l| matches!(l.layer, Layer::MaxPool(_))).collect();
    let pool5 = PoolSpec { kernel: 3, stride: 2, pads: [0, 0, 1, 1] };
    assert_eq!(pools[2].layer, Layer::MaxPool(pool5));
    assert_eq!((pools[2].input, pools[2].output), (Shape::new(16, 6, 6), Shape::new(16, 3, 3)));
    assert!(matches!(model.spec.layers[1], Layer::Lrn(_)) && matches!(model.spec.layers[2], Layer::MaxPool(_)));
    assert!(summary.contains("pool3  maxpool 3x3/2 pad 0,0,1,1"), "{summary}");
    assert!(summary.contains("lrn1") && summary.contains("16x3x3"), "{summary}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn caffenet_with_pooling_before_lrn_and_ceil_mode_imports_and_matches_onnxruntime() {
    let dir = std::env::temp_dir().join(format!("alexnet-import-caffenet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (model, summary) = import_caffe_fixture("caffenet_w16", Shape::new(3, 103, 103), &dir);
    // CaffeNet's order: conv, pool, LRN; each ceil-mode pool takes one more
    // row and column than floor mode would (24 -> 12, 12 -> 6, 6 -> 3).
    let kinds: Vec<_> = model.spec.walk().take(6).map(|l| l.name.to_string()).collect();
    assert_eq!(kinds, ["conv1", "pool1", "lrn1", "conv2", "pool2", "lrn2"]);
    let ceil = PoolSpec { kernel: 3, stride: 2, pads: [0, 0, 1, 1] };
    let pools: Vec<_> = model.spec.walk().filter(|l| matches!(l.layer, Layer::MaxPool(_))).collect();
    let sides: Vec<_> = pools.iter().map(|l| (l.input.h, l.output.h)).collect();
    assert_eq!(sides, [(24, 12), (12, 6), (6, 3)]);
    assert!(pools.iter().all(|l| l.layer == Layer::MaxPool(ceil)));
    assert!(summary.contains("pool1  maxpool 3x3/2 pad 0,0,1,1"), "{summary}");
    std::fs::remove_dir_all(&dir).ok();
}

/// An attribute an operator gains or loses across opsets changes what a
/// node means: each is read as its opset means it, or refused by name.
#[test]
fn operator_versions_that_mean_something_else_are_refused_by_name() {
    let spec = AlexNetConfig::small(Shape::new(1, 28, 28), 10).with_width(0.125).build().unwrap();
    let original = FloatModel::random(&spec, 5);
    let import = |model: &ModelProto| import_graph(&model.encode_to_vec(), &GraphOptions::default());
    let at_opset = |version: i64, op: &str, attr: AttributeProto| {
        let mut model = to_onnx(&original);
        model.opset_import = vec![OperatorSetIdProto { domain: String::new(), version }];
        let node = model.graph.as_mut().unwrap().node.iter_mut().find(|n| n.op_type == op).unwrap();
        node.attribute.push(attr);
        (node.name.clone(), model)
    };
    let int = |name: &str, i: i64| AttributeProto { name: name.into(), i, r#type: 2, ..Default::default() };
    // MaxPool gained ceil_mode at opset 10: read there, refused before.
    let (pool, ceil) = at_opset(10, "MaxPool", int("ceil_mode", 1));
    import(&ceil).unwrap();
    let (_, early) = at_opset(9, "MaxPool", int("ceil_mode", 1));
    let err = import(&early).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "node '{pool}' (MaxPool): ceil_mode is an attribute of MaxPool from opset 10, and this model is opset 9"
        )),
        "{err}"
    );
    // Gemm's broadcast (before opset 7): 1 is what later opsets do, 0 is not.
    let (fc, same) = at_opset(7, "Gemm", int("broadcast", 1));
    import(&same).unwrap();
    let (_, other) = at_opset(7, "Gemm", int("broadcast", 0));
    let err = import(&other).unwrap_err().to_string();
    assert!(err.contains(&format!("node '{fc}' (Gemm): broadcast=0 is not supported (only 1)")), "{err}");
    // BatchNormalization: `spatial` (opsets 7 and 8) must be 1 and is gone
    // from 9; `training_mode` (14 on) must be 0.
    let with_bn = |version: i64, attrs: Vec<AttributeProto>| {
        let mut model = to_onnx(&original);
        model.opset_import = vec![OperatorSetIdProto { domain: String::new(), version }];
        let graph = model.graph.as_mut().unwrap();
        let channels = original.layers[0].bias.len();
        for name in ["bn.scale", "bn.bias", "bn.mean", "bn.var"] {
            graph.initializer.push(host::onnx::proto::TensorProto {
                name: name.into(),
                dims: vec![channels as i64],
                data_type: 1,
                float_data: vec![1.0; channels],
                ..Default::default()
            });
        }
        let conv = graph.node.iter().position(|n| n.op_type == "Conv").unwrap();
        let out = graph.node[conv].output[0].clone();
        graph.node[conv + 1].input[0] = format!("{out}.bn");
        let input = [out.as_str(), "bn.scale", "bn.bias", "bn.mean", "bn.var"].map(String::from).to_vec();
        let bn = NodeProto {
            op_type: "BatchNormalization".into(),
            name: "bn".into(),
            input,
            output: vec![format!("{out}.bn")],
            attribute: attrs,
            ..Default::default()
        };
        graph.node.insert(conv + 1, bn);
        import(&model).map(|_| ()).map_err(|e| e.to_string())
    };
    assert_eq!(with_bn(8, vec![int("spatial", 1)]), Ok(()));
    assert_eq!(with_bn(14, vec![int("training_mode", 0)]), Ok(()));
    let refusals = [
        (8, int("spatial", 0), "spatial=0 is not supported (only 1)"),
        (9, int("spatial", 1), "spatial is not an attribute of BatchNormalization at opset 9"),
        (13, int("training_mode", 0), "training_mode is an attribute of BatchNormalization from opset 14"),
        (14, int("training_mode", 1), "training_mode=1 is not supported (only 0)"),
    ];
    for (version, attr, want) in refusals {
        let err = with_bn(version, vec![attr]).unwrap_err();
        assert!(err.contains(&format!("node 'bn' (BatchNormalization): {want}")), "{err}");
    }
    // A Dropout in training mode (an input from opset 12) is not an identity.
    let mut training = to_onnx(&original);
    training.opset_import = vec![OperatorSetIdProto { domain: String::new(), version: 13 }];
    let graph = training.graph.as_mut().unwrap();
    let at = graph.node.iter().position(|n| n.op_type == "Gemm").unwrap();
    let input = graph.node[at].output[0].clone();
    for (name, on) in [("train-off", 0u8), ("train-on", 1)] {
        graph.initializer.push(host::onnx::proto::TensorProto {
            name: name.into(),
            data_type: 9,
            raw_data: vec![on],
            ..Default::default()
        });
    }
    let dropout = |mode: &str| NodeProto {
        op_type: "Dropout".into(),
        name: "drop".into(),
        input: vec![input.clone(), String::new(), mode.into()],
        output: vec![format!("{input}.dropped"), "mask".into()],
        ..Default::default()
    };
    graph.node.insert(at + 1, dropout("train-off"));
    graph.node[at + 2].input[0] = format!("{input}.dropped");
    let imported = import(&training).unwrap();
    assert_eq!(imported.model.layers, original.layers);
    training.graph.as_mut().unwrap().node[at + 1] = dropout("train-on");
    let err = import(&training).unwrap_err().to_string();
    assert!(err.contains("node 'drop' (Dropout): training_mode 'train-on' is not a constant false"), "{err}");
    // Its mask, once read, is refused too.
    let graph = training.graph.as_mut().unwrap();
    graph.node[at + 1] = dropout("train-off");
    graph.output.push(host::onnx::proto::ValueInfoProto { name: "mask".into(), ..Default::default() });
    let err = import(&training).unwrap_err().to_string();
    assert!(err.contains("node 'drop' (Dropout): a Dropout whose mask is read is not supported"), "{err}");
}

/// An Add after a convolution folds into its bias only where broadcasting
/// reaches the channels: C x 1 x 1 (or 1 x C x 1 x 1). A plain C is added
/// along the width and is refused; so is a ConstantOfShape too large to
/// allocate.
#[test]
fn a_bias_add_must_broadcast_over_channels_and_constants_are_bounded() {
    let spec = AlexNetConfig::small(Shape::new(1, 28, 28), 10).with_width(0.125).build().unwrap();
    let original = FloatModel::random(&spec, 6);
    let channels = original.layers[0].bias.len();
    let with_add = |dims: Vec<i64>| {
        let mut model = to_onnx(&original);
        let graph = model.graph.as_mut().unwrap();
        let conv = graph.node.iter().position(|n| n.op_type == "Conv").unwrap();
        let out = graph.node[conv].output[0].clone();
        graph.node[conv + 1].input[0] = format!("{out}.biased");
        graph.node.insert(
            conv + 1,
            NodeProto {
                op_type: "Add".into(),
                name: "shift".into(),
                input: vec![out.clone(), "shift.value".into()],
                output: vec![format!("{out}.biased")],
                ..Default::default()
            },
        );
        graph.initializer.push(host::onnx::proto::TensorProto {
            name: "shift.value".into(),
            dims,
            data_type: 1,
            float_data: (0..channels).map(|c| c as f32 * 0.25).collect(),
            ..Default::default()
        });
        model
    };
    let c = channels as i64;
    for dims in [vec![c, 1, 1], vec![1, c, 1, 1]] {
        let imported = import_graph(&with_add(dims.clone()).encode_to_vec(), &GraphOptions::default()).unwrap().model;
        let want: Vec<f32> = original.layers[0].bias.iter().enumerate().map(|(i, b)| b + i as f32 * 0.25).collect();
        assert_eq!(imported.layers[0].bias, want, "{dims:?}");
    }
    let err = import_graph(&with_add(vec![c]).encode_to_vec(), &GraphOptions::default()).unwrap_err().to_string();
    let want = format!("node 'shift' (Add): adds a constant of shape [{c}]; only a bias of shape {c} x 1 x 1");
    assert!(err.contains(&want), "{err}");

    let mut huge = to_onnx(&original);
    let graph = huge.graph.as_mut().unwrap();
    graph.initializer.push(host::onnx::proto::TensorProto {
        name: "huge.shape".into(),
        dims: vec![2],
        data_type: 7,
        int64_data: vec![1 << 20, 1 << 20],
        ..Default::default()
    });
    graph.node.insert(
        0,
        NodeProto {
            op_type: "ConstantOfShape".into(),
            name: "fill".into(),
            input: vec!["huge.shape".into()],
            output: vec!["huge".into()],
            ..Default::default()
        },
    );
    let err = import_graph(&huge.encode_to_vec(), &GraphOptions::default()).unwrap_err().to_string();
    let want = "node 'fill' (ConstantOfShape): shape 'huge.shape' is negative, or with the ConstantOfShape nodes \
                before it over 512 MiB of values";
    assert!(err.contains(want), "{err}");
}

#[path = "../../tests/fixtures/torchvision_w16_int8/images.rs"]
mod int8_images;

fn int8_fixture(name: &str) -> PathBuf {
    fixture_in("torchvision_w16_int8", name)
}

fn import_int8(bytes: &[u8]) -> Result<ImportedInt8, host::import::ImportError> {
    match import_onnx(bytes, &GraphOptions::default())? {
        Imported::Int8(int8) => Ok(int8),
        Imported::Float(_) => panic!("a quantized model imported as a float one"),
    }
}

/// Runs the int8 model file on the host and compares with onnxruntime's
/// int8 outputs: (images, same top-1, largest difference in output steps).
fn compare_with_onnxruntime(model_bytes: &[u8], variant: &str, images: &[Vec<u8>]) -> (usize, usize, i32) {
    let raw = std::fs::read(int8_fixture(&format!("{variant}.out.i8"))).unwrap();
    let theirs: Vec<&[u8]> = raw.chunks_exact(10).collect();
    assert_eq!(theirs.len(), images.len(), "{variant}");
    let aligned = shared::format::AlignedBytes::new(model_bytes);
    let model = shared::Model::parse(&aligned).unwrap();
    let engine = shared::Engine::new(&model).unwrap();
    let mut buf = vec![0u8; engine.buffer_len()];
    // The first largest value, as numpy's argmax takes it.
    let top1 = |v: &[i8]| (0..v.len()).fold(0, |best, k| if v[k] > v[best] { k } else { best });
    let (mut same, mut worst) = (0, 0);
    for (image, theirs) in images.iter().zip(theirs) {
        engine.run(image, &mut buf).unwrap();
        let ours = engine.logits(&buf);
        let theirs: Vec<i8> = theirs.iter().map(|&b| b as i8).collect();
        same += (top1(ours) == top1(&theirs)) as usize;
        worst = ours.iter().zip(&theirs).map(|(a, b)| (*a as i32 - *b as i32).abs()).fold(worst, i32::max);
    }
    (images.len(), same, worst)
}

/// The fixture's test images, checked to be the script's.
fn int8_fixture_images(manifest: &serde_json::Value) -> Vec<Vec<u8>> {
    let images: Vec<Vec<u8>> = (0..manifest["images"].as_u64().unwrap()).map(int8_images::image).collect();
    let crc = shared::format::crc32(&images.concat());
    assert_eq!(crc as u64, manifest["inputs_crc32"].as_u64().unwrap(), "images.rs makes other images than the script");
    images
}

fn int8_manifest() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(int8_fixture("manifest.json")).unwrap()).unwrap()
}

const INT8_VARIANTS: [&str; 3] = ["qdq_u8", "qdq_s8", "qop_u8"];

#[test]
fn models_quantized_by_onnxruntime_import_with_its_scales_and_weights() {
    let manifest = int8_manifest();
    let images = int8_fixture_images(&manifest);
    for variant in INT8_VARIANTS {
        let int8 = import_int8(&std::fs::read(int8_fixture(&format!("{variant}.onnx"))).unwrap()).unwrap();
        assert_eq!(int8.spec.input, Shape::new(3, 224, 224));
        // The metadata's whole-pixel means, and the file's output scale.
        assert_eq!(&int8.spec.normalize.mean[..3], &[124.0, 116.0, 104.0]);
        let v = &manifest["variants"][variant];
        let out = int8.quant.layers.last().unwrap().output;
        assert_eq!(out.scale, v["output_scale"].as_f64().unwrap() as f32, "{variant}");
        assert_eq!(out.zero_point as i64, v["output_zero_point_int8"].as_i64().unwrap(), "{variant}");
        let weighted = int8.spec.layers.iter().filter(|l| matches!(l, Layer::Conv(_) | Layer::Dense(_))).count();
        assert_eq!(int8.quant.layers.iter().filter(|l| l.weights.is_some()).count(), weighted);
        // It runs, and ranks like onnxruntime on most images (the target,
        // 99%, is the ignored test below).
        let bytes = shared::quantize::quantize_fixed(&int8.spec, int8.quant, None::<&[&str]>).unwrap();
        let (n, same, worst) = compare_with_onnxruntime(&bytes, variant, &images);
        println!("{variant}: same top-1 as onnxruntime on {same}/{n}, largest logit difference {worst} step(s)");
        assert!(same * 100 >= n * 90, "{variant}: same top-1 on only {same} of {n} images");
    }
}

/// The target of issue #34: top-1 as onnxruntime's on 99% of the images,
/// logits within one output step. Not met on this fixture: measured
/// 194/200 (qdq_u8, qop_u8) and 191/200 (qdq_s8), logits up to 7 steps
/// apart (mean 1.25). Layer by layer on image 0 (checked by hand against
/// a numpy replay of qop_u8 that matches onnxruntime exactly), the layers
/// up to fc6 are within one step (fc7 two, fc8 three), and from the same
/// input the first convolution differs on under 0.05% of its values:
/// TFLite's fixed-point requantization rounds twice (high product, then
/// shift), onnxruntime's once in float. The differences compound over the
/// eight layers. `cargo test -p host --test import_models
/// -- --ignored` prints the figures.
#[test]
#[ignore = "one-step rounding differences per layer compound to up to 7 steps at the logits on this fixture"]
fn models_quantized_by_onnxruntime_match_its_outputs_within_one_step() {
    let manifest = int8_manifest();
    let images = int8_fixture_images(&manifest);
    let mut results = Vec::new();
    for variant in INT8_VARIANTS {
        let int8 = import_int8(&std::fs::read(int8_fixture(&format!("{variant}.onnx"))).unwrap()).unwrap();
        let bytes = shared::quantize::quantize_fixed(&int8.spec, int8.quant, None::<&[&str]>).unwrap();
        let (n, same, worst) = compare_with_onnxruntime(&bytes, variant, &images);
        println!("{variant}: same top-1 as onnxruntime on {same}/{n}, largest logit difference {worst} step(s)");
        results.push((variant, n, same, worst));
    }
    for (variant, n, same, worst) in results {
        assert!(same * 100 >= n * 99, "{variant}: same top-1 on only {same} of {n} images");
        assert!(worst <= 1, "{variant}: logits differ from onnxruntime's by {worst} steps");
    }
}

#[test]
fn host_import_writes_a_quantized_onnx_model_as_the_int8_model_file() {
    let dir = std::env::temp_dir().join(format!("alexnet-import-int8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("m.axq");
    let run =
        host(&["import", "--onnx", int8_fixture("qdq_u8.onnx").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("the int8 model file"), "{stdout}");
    assert!(stdout.contains("zero points moved by 128"), "{stdout}");
    let bytes = shared::format::AlignedBytes::new(&std::fs::read(&out).unwrap());
    let model = shared::Model::parse(&bytes).unwrap();
    assert_eq!(model.spec().input, Shape::new(3, 224, 224));
    // The same file as the library makes.
    let mut int8 = import_int8(&std::fs::read(int8_fixture("qdq_u8.onnx")).unwrap()).unwrap();
    // `host import`'s default for a 224 input: torchvision's 256.
    int8.spec.resize = 256;
    let names: Vec<String> = (0..10).map(|c| format!("class{c}")).collect();
    let want = shared::quantize::quantize_fixed(&int8.spec, int8.quant, Some(&names)).unwrap();
    assert_eq!(&bytes[..], &want[..]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The QDQ fixture with `edit` applied to its proto.
fn edited_qdq(edit: impl FnOnce(&mut host::onnx::proto::GraphProto)) -> Vec<u8> {
    let mut model = ModelProto::decode(&std::fs::read(int8_fixture("qdq_u8.onnx")).unwrap()[..]).unwrap();
    edit(model.graph.as_mut().unwrap());
    model.encode_to_vec()
}

fn initializer<'g>(graph: &'g mut host::onnx::proto::GraphProto, name: &str) -> &'g mut host::onnx::proto::TensorProto {
    graph.initializer.iter_mut().find(|t| t.name == name).unwrap_or_else(|| panic!("no initializer {name}"))
}

/// A small tensor's values as written (onnxruntime stores scales and zero
/// points in float_data and int32_data, weights in raw_data).
fn floats(t: &host::onnx::proto::TensorProto) -> Vec<f32> {
    match t.raw_data.is_empty() {
        true => t.float_data.clone(),
        false => t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
    }
}

fn set_int(t: &mut host::onnx::proto::TensorProto, index: usize, value: i32) {
    match t.raw_data.is_empty() {
        true => t.int32_data[index] = value,
        false => t.raw_data[index] = value as u8,
    }
}

#[test]
fn what_the_int8_scheme_cannot_hold_is_refused_by_node_and_operator() {
    let refused = |bytes: Vec<u8>| import_int8(&bytes).unwrap_err().to_string();
    // Asymmetric weights.
    let e = refused(edited_qdq(|g| set_int(initializer(g, "features.3.weight_zero_point"), 2, 3)));
    assert!(e.contains("(DequantizeLinear)") && e.contains("zero point 3 (asymmetric)"), "{e}");
    assert!(e.contains("supported are int8 weights with zero point 0"), "{e}");
    // uint8 weights.
    let e = refused(edited_qdq(|g| {
        for name in ["features.6.weight_quantized", "features.6.weight_zero_point"] {
            initializer(g, name).data_type = 2;
        }
    }));
    assert!(e.contains("uint8 weights; supported are int8 weights with zero point 0"), "{e}");
    // -128, which the symmetric scheme (and the kernels) leave out.
    let e = refused(edited_qdq(|g| set_int(initializer(g, "classifier.4.weight_quantized"), 5, -128)));
    assert!(e.contains("the weight -128; supported are symmetric int8 weights, -127 to 127"), "{e}");
    // Per-channel activations.
    let e = refused(edited_qdq(|g| {
        let t = initializer(g, "/features/features.4/Relu_output_0_scale");
        let v = floats(t)[0];
        (t.dims, t.raw_data, t.float_data) = (vec![2], Vec::new(), vec![v, v]);
    }));
    assert!(e.contains("(QuantizeLinear)") && e.contains("supported are per-tensor activations"), "{e}");
    // A max pool whose output has a scale of its own.
    let e = refused(edited_qdq(|g| {
        let mut scale = initializer(g, "/features/features.4/Relu_output_0_scale").clone();
        scale.name = "other_scale".into();
        (scale.raw_data, scale.float_data) = (Vec::new(), vec![0.5]);
        g.initializer.push(scale);
        for n in g.node.iter_mut() {
            if n.input.first().is_some_and(|i| i.starts_with("/features/features.5/MaxPool_output_0")) {
                n.input[1] = "other_scale".into();
            }
        }
    }));
    assert!(e.contains("(MaxPool)") && e.contains("an int8 pool keeps its input's"), "{e}");
    // A weighted layer left in float.
    let e = refused(edited_qdq(|g| {
        let w = initializer(g, "features.8.weight_quantized").clone();
        let scale = initializer(g, "features.8.weight_scale").clone();
        let s = floats(&scale);
        let per = w.raw_data.len() / s.len();
        let floats: Vec<u8> =
            w.raw_data.iter().enumerate().flat_map(|(i, &q)| (q as i8 as f32 * s[i / per]).to_le_bytes()).collect();
        g.initializer.push(host::onnx::proto::TensorProto {
            name: "float_weights".into(),
            dims: w.dims.clone(),
            data_type: 1,
            raw_data: floats,
            ..Default::default()
        });
        for n in g.node.iter_mut() {
            if n.op_type == "Conv" && n.input[1] == "features.8.weight_DequantizeLinear_Output" {
                n.input[1] = "float_weights".into();
            }
        }
    }));
    assert!(e.contains("(Conv)") && e.contains("its weights are float; supported are int8 weights"), "{e}");
    // As `host import` says it: one line.
    let dir = std::env::temp_dir().join(format!("alexnet-import-int8-refused-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("asymmetric.onnx");
    std::fs::write(&path, edited_qdq(|g| set_int(initializer(g, "features.0.weight_zero_point"), 0, 1))).unwrap();
    let out = dir.join("m.axq");
    let line = one_error_line(&host(&["import", "--onnx", path.to_str().unwrap(), "--out", out.to_str().unwrap()]));
    assert!(line.contains("node '") && line.contains("(DequantizeLinear)") && line.contains("asymmetric"), "{line}");
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
