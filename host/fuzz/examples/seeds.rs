//! Writes the committed seed corpus of this crate's fuzz targets into
//! `seeds/<target>/`: `cargo run --example seeds` (from host/fuzz). Small
//! valid inputs, so fuzzing starts from the files and frames the host reads.

use flate2::{write::GzEncoder, Compression};
use host::import::onnx_graph::{import_graph, GraphOptions};
use host::import::state_dict::import_state_dict;
use host::train::checkpoint::{weight_shape, Checkpoint, Progress, RunData};
use host::train::preprocess::Augment;
use host::train::recipe::{Hyper, RecipeKind};
use prost::Message;
use safetensors::tensor::{Dtype, TensorView};
use shared::float::FloatModel;
use shared::infer::Prediction;
use shared::link::{
    encode_frame, Board, CardInfo, DeviceInfo, ErrorCode, InferResult, LayerCycles, ModelError, ModelInfo, Response,
    FRAME_GUARD, MAX_FRAME, PROTOCOL_VERSION,
};
use shared::spec::{AlexNetConfig, AvgPoolSpec, Layer, Normalize, Shape};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

fn dir(target: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    std::fs::write(dir(target).join(name), bytes).unwrap();
    println!("seeds/{target}/{name}: {} bytes", bytes.len());
}

fn replies() -> Vec<Response> {
    let info = DeviceInfo {
        protocol: PROTOCOL_VERSION,
        firmware: [0, 1, 0],
        board: Board::Rpi3,
        format_version: shared::format::FORMAT_VERSION,
        cores: 4,
        buffer_capacity: 1 << 22,
        image_capacity: 1 << 18,
        model: Ok(ModelInfo {
            checksum: 0xDEAD_BEEF,
            file_len: 3428,
            input: Shape::new(3, 8, 8),
            classes: 4,
            buffer_len: 4096,
        }),
        card: Ok(CardInfo { images: 10_000, crc: 0x1234_5678 }),
    };
    let top5 = [(2, 90), (0, -3), (3, -40), (1, -128)].map(|(class, logit)| Prediction { class, logit });
    let result = InferResult { id: 7, top5: top5.into_iter().collect(), cycles: 123_456 };
    let layers = [9, 8, 7, 6, 5, 4].into_iter().collect();
    let critical = [3, 2, 1, 1, 1, 1].into_iter().collect();
    let instructions = [4, 4, 2, 2, 1, 1].into_iter().collect();
    let profile = LayerCycles { id: 7, prepare: 100, layers, critical, instructions };
    vec![
        Response::Info(info),
        Response::Ack,
        Response::Result(result),
        Response::LayerCycles(profile),
        Response::Error(ErrorCode::Model(ModelError::UnsupportedVersion { found: 9 })),
        Response::Error(ErrorCode::ImageTooLarge { len: 1 << 20, capacity: 1 << 18 }),
        Response::Nak,
    ]
}

fn reply_seeds() {
    // As a board starts: its banner, a lone delimiter, then frames.
    let mut raw = vec![0u8];
    raw.extend_from_slice(b"alexnet-firmware 0.1.0 board=Rpi3\r\nmodel ok\r\n\0");
    let mut payloads = Vec::new();
    for (seq, reply) in (1u16..).zip(replies()) {
        let mut frame = [0u8; MAX_FRAME];
        let n = encode_frame(seq, &reply, &mut frame).unwrap();
        raw.extend_from_slice(&frame[..n]);
        raw.extend_from_slice(&FRAME_GUARD);
        payloads.push(postcard::to_allocvec(&(seq, &reply)).unwrap());
    }
    write("reply", "replies-raw", &raw);
    write("reply", "replies-framed", &shared_fuzz::sealed_input(0, &payloads));
}

fn checkpoint_seed() {
    let spec = shared_fuzz::tiny_spec();
    let model = FloatModel::random(&spec, 3);
    let momentum = FloatModel::random(&spec, 4).layers;
    let progress =
        Progress { epoch: 1, batch_in_epoch: 2, step: 30, best_val_top1_err: Some(0.5), ..Default::default() };
    let classes = ["a", "b", "c", "d"].map(String::from).to_vec();
    let data = Some(RunData { train_limit: Some(64), val_limit: None, augment: Augment::NONE });
    let ckpt = Checkpoint { model, momentum, hyper: Hyper::defaults(RecipeKind::Fast), progress, classes, data };
    let path = dir("checkpoint").join("tiny.safetensors");
    ckpt.save(&path).unwrap();
    assert_eq!(Checkpoint::load(&path).unwrap(), ckpt);
    println!("seeds/checkpoint/tiny.safetensors: {} bytes", std::fs::metadata(&path).unwrap().len());
}

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    dims.iter().for_each(|d| v.extend(d.to_be_bytes()));
    v.extend_from_slice(data);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx_seeds() {
    let pixels: Vec<u8> = (0..3 * 4 * 4).map(|i| (i * 17 % 256) as u8).collect();
    let images = idx(0x0803, &[3, 4, 4], &pixels);
    let labels = idx(0x0801, &[3], &[9, 0, 4]);
    write("idx", "plain", &host_fuzz::idx_input((false, &images), (false, &labels)));
    write("idx", "gzipped", &host_fuzz::idx_input((true, &gzip(&images)), (true, &gzip(&labels))));
}

fn cifar_seed() {
    let mut batch = Vec::new();
    for (i, label) in [3u8, 8].into_iter().enumerate() {
        batch.push(label);
        batch.extend((0..3 * 32 * 32).map(|p| (p * 7 + i * 50) as u8));
    }
    write("cifar10", "two-records", &batch);
}

/// Links `seeds/<target>/<name>` to a file of tests/fixtures/ (relative,
/// so the checkout can move), so the fuzzers start from what the importer
/// tests read, without a second copy in the repository.
fn fixture(target: &str, name: &str, fixture: &str) {
    let link = dir(target).join(name);
    let _ = std::fs::remove_file(&link);
    let to = Path::new("../../../../tests/fixtures").join(fixture);
    std::os::unix::fs::symlink(&to, &link).unwrap();
    let len = std::fs::metadata(&link).expect("the fixture exists").len();
    println!("seeds/{target}/{name} -> {}: {len} bytes", to.display());
}

fn onnx_seeds() {
    for name in ["torchvision_w16", "bvlc_alexnet_w16", "caffenet_w16"] {
        fixture("onnx_model", &format!("{name}.onnx"), &format!("{name}/model.onnx"));
    }
    // `host export-onnx`'s graphs, small: Conv (groups), Relu, LRN,
    // MaxPool, Flatten, Gemm; and with an average pool written as Reshape,
    // MatMul, Reshape (the pool's 3x3 map to 2x2 does not tile).
    let export = |name: &str, model: &FloatModel| {
        let bytes = host::onnx::to_onnx(model).encode_to_vec();
        let imported = import_graph(&bytes, &GraphOptions::default()).unwrap().model;
        assert_eq!(imported.layers, model.layers, "{name} imports");
        write("onnx_model", name, &bytes);
    };
    export("tiny-export.onnx", &FloatModel::random(&shared_fuzz::tiny_spec(), 5));
    let mut spec = shared_fuzz::tiny_spec();
    spec.layers.insert(3, Layer::AvgPool(AvgPoolSpec { out_h: 2, out_w: 2 })).unwrap();
    spec.validate().unwrap();
    export("tiny-avgpool-matmul.onnx", &FloatModel::random(&spec, 6));
}

/// `model`'s weights as a state_dict in safetensors, under `names` (one
/// per weighted layer), with `metadata`.
fn state_dict(model: &FloatModel, names: &[String], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut tensors = Vec::new();
    let weighted = model.spec.walk().zip(&model.layers).filter_map(|(info, p)| Some((weight_shape(&info)?, p)));
    for ((shape, p), name) in weighted.zip(names) {
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        tensors.push((format!("{name}.weight"), shape.clone(), bytes(&p.weights)));
        tensors.push((format!("{name}.bias"), shape[..1].to_vec(), bytes(&p.bias)));
    }
    let views = tensors.iter().map(|(n, s, b)| (n.clone(), TensorView::new(Dtype::F32, s.clone(), b).unwrap()));
    let meta: HashMap<String, String> = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

fn state_dict_seeds() {
    fixture("state_dict", "torchvision_w16.safetensors", "torchvision_w16/model.safetensors");
    // This project's names with the header scripts/train_ddp.py writes.
    let mut cfg = AlexNetConfig::small(Shape::new(3, 32, 32), 4).with_width(1.0 / 16.0);
    cfg.fc_features = [16, 16];
    cfg.normalize = Normalize::from_channels(&[0.5; 3], &[0.25; 3]).unwrap();
    let small = FloatModel::random(&cfg.build().unwrap(), 7);
    let names = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"].map(String::from);
    let meta = [
        ("arch", "small"),
        ("input", "[3, 32, 32]"),
        ("mean", "[0.5, 0.5, 0.5]"),
        ("std", "[0.25, 0.25, 0.25]"),
        ("resize_short_side", "36"),
    ];
    let bytes = state_dict(&small, &names, &meta);
    assert_eq!(import_state_dict(&bytes, cfg).unwrap().0, small);
    write("state_dict", "small-project.safetensors", &bytes);
    // torchvision's names under DistributedDataParallel's `module.`.
    let mut cfg = AlexNetConfig::torchvision().with_width(1.0 / 32.0);
    cfg.input = Shape::new(3, 64, 64);
    cfg.fc_features = [16, 16];
    cfg.classes = 3;
    let tv = FloatModel::random(&cfg.build().unwrap(), 8);
    let names = ["features.0", "features.3", "features.6", "features.8", "features.10"]
        .into_iter()
        .chain(["classifier.1", "classifier.4", "classifier.6"])
        .map(|n| format!("module.{n}"))
        .collect::<Vec<_>>();
    let bytes = state_dict(&tv, &names, &[("input", "[3, 64, 64]")]);
    assert_eq!(import_state_dict(&bytes, cfg).unwrap().0, tv);
    write("state_dict", "tiny-torchvision-ddp.safetensors", &bytes);
}

fn main() {
    reply_seeds();
    checkpoint_seed();
    idx_seeds();
    cifar_seed();
    onnx_seeds();
    state_dict_seeds();
}
