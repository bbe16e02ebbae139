//! The paper-size AlexNet-227 with seeded random weights: the plain f32
//! reference in `shared`, the dfdx network and tract running the exported
//! ONNX graph compute the same logits (within float rounding) and the same
//! top-5 on a batch of images.

#![cfg(feature = "tract")]

use dfdx::prelude::*;
use host::inference::top5;
use host::inference::tract::TractRunner;
use host::onnx::export;
use host::train::model::AlexNet;
use shared::float::FloatModel;
use shared::spec::AlexNetConfig;

#[test]
fn paper_network_agrees_across_reference_dfdx_and_tract() {
    let spec = AlexNetConfig::paper().build().unwrap();
    assert_eq!(spec.param_count(), 60_965_224);
    let float = FloatModel::random(&spec, 2012);
    let images = shared::synthetic::images(&spec, 2, 5);
    let batch: Vec<f32> = images.iter().flat_map(|im| float.normalize(im)).collect();

    let reference: Vec<Vec<f32>> = images.iter().map(|im| float.forward(im)).collect();
    let dev = Cpu::default();
    let net = AlexNet::from_float(&float, &dev);
    let dfdx_logits = net.forward(dev.tensor_from_vec(batch.clone(), (2, 3, 227, 227)), None).as_vec();

    let dir = std::env::temp_dir().join(format!("alexnet-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let onnx = dir.join("paper.onnx");
    export(&float, &onnx).unwrap();
    let tract_logits = TractRunner::load(&onnx, &spec, 2).unwrap().logits(&batch).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    for (i, want) in reference.iter().enumerate() {
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (name, got) in [("dfdx", &dfdx_logits[i * 1000..][..1000]), ("tract", &tract_logits[i * 1000..][..1000])] {
            let worst = got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
            // Summation order differs (GEMM blocking), nothing else.
            assert!(worst <= 1e-4 * scale, "{name} image {i}: worst |diff| {worst} for logits up to {scale}");
            assert_eq!(top5(got), top5(want), "{name} image {i}: top-5 differs");
        }
    }
}

/// torchvision's pattern with a real adaptive average pool, both ways
/// `export-onnx` writes one: a product (7x7 to 6x6, overlapping windows)
/// and AveragePool (12x12 to 6x6).
#[test]
fn average_pools_agree_between_reference_and_tract() {
    for side in [256, 415] {
        let mut cfg = AlexNetConfig::torchvision().with_width(1.0 / 16.0);
        (cfg.input, cfg.classes, cfg.fc_features) = (shared::spec::Shape::new(3, side, side), 10, [64, 64]);
        tract_matches_reference(&cfg.build().unwrap(), 9, &format!("pool-{side}"));
    }
}

/// Exports `spec` with seeded random weights, runs the graph in tract on
/// two images and checks its 10 logits against the f32 reference's.
fn tract_matches_reference(spec: &shared::spec::ModelSpec, seed: u64, name: &str) {
    let float = FloatModel::random(spec, seed);
    let images = shared::synthetic::images(spec, 2, 3);
    let batch: Vec<f32> = images.iter().flat_map(|im| float.normalize(im)).collect();
    let dir = std::env::temp_dir().join(format!("alexnet-onnx-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let onnx = dir.join("model.onnx");
    export(&float, &onnx).unwrap();
    let tract_logits = TractRunner::load(&onnx, spec, 2).unwrap().logits(&batch).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    for (i, im) in images.iter().enumerate() {
        let want = float.forward(im);
        let got = &tract_logits[i * 10..][..10];
        let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
        assert!(worst <= 1e-4 * scale, "{name}: image {i}: {got:?} vs {want:?}");
    }
}

/// Padded max pooling as `export-onnx` writes it (pads, ceil mode as the
/// padding it takes) computes in tract what the reference computes:
/// CaffeNet's order with ceil-mode pools that read their padding, and
/// every pool padded by 1 (PyTorch's MaxPool2d(3, 2, 1)).
#[test]
fn padded_pools_agree_between_reference_and_tract() {
    let mut cfg = AlexNetConfig::caffenet().with_width(1.0 / 16.0);
    (cfg.input, cfg.classes, cfg.fc_features) = (shared::spec::Shape::new(3, 103, 103), 10, [64, 64]);
    let caffenet = cfg.build().unwrap();
    let mut padded = AlexNetConfig::small(shared::spec::Shape::new(3, 32, 32), 10).with_width(0.125).build().unwrap();
    for layer in padded.layers.iter_mut() {
        if let shared::spec::Layer::MaxPool(p) = layer {
            p.pads = [1; 4];
        }
    }
    padded.validate().unwrap();
    for (name, spec) in [("caffenet", caffenet), ("padded", padded)] {
        assert!(spec.layers.iter().any(|l| matches!(l, shared::spec::Layer::MaxPool(p) if p.is_padded())));
        tract_matches_reference(&spec, 34, name);
    }
}

/// A batch norm between a convolution and its ReLU, as PyTorch exports a
/// BatchNorm2d in eval mode: `import` folds it into the convolution, and the
/// folded network computes what tract computes from the unfolded graph.
#[test]
fn imported_batch_norm_folds_into_the_convolution() {
    use host::import::onnx_graph::{import_graph, GraphOptions};
    use host::onnx::proto::{AttributeProto, NodeProto, TensorProto};
    use prost::Message;
    let spec = AlexNetConfig::small(shared::spec::Shape::new(3, 32, 32), 10).with_width(0.125).build().unwrap();
    let float = FloatModel::random(&spec, 5);
    let mut onnx = host::onnx::to_onnx(&float);
    let graph = onnx.graph.as_mut().unwrap();
    let channels = 8;
    let mut rng = shared::float::SplitMix64::new(3);
    for (name, lo, hi) in [("bn.scale", 0.5, 1.5), ("bn.bias", -0.3, 0.3), ("bn.mean", -0.2, 0.2), ("bn.var", 0.2, 2.0)]
    {
        let values: Vec<f32> = (0..channels).map(|_| (lo + (hi - lo) * rng.next_f64()) as f32).collect();
        graph.initializer.push(TensorProto {
            name: name.into(),
            dims: vec![channels as i64],
            data_type: 1,
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
    }
    let relu = graph.node.iter().position(|n| n.op_type == "Relu").unwrap();
    assert_eq!(graph.node[relu].input[0], "conv1");
    graph.node[relu].input[0] = "conv1.bn".into();
    let epsilon = AttributeProto { name: "epsilon".into(), r#type: 1, f: 1e-3, ..Default::default() };
    let bn = NodeProto {
        op_type: "BatchNormalization".into(),
        name: "bn1".into(),
        input: ["conv1", "bn.scale", "bn.bias", "bn.mean", "bn.var"].map(String::from).to_vec(),
        output: vec!["conv1.bn".into()],
        attribute: vec![epsilon],
        ..Default::default()
    };
    graph.node.insert(relu, bn);
    let bytes = onnx.encode_to_vec();

    let folded = import_graph(&bytes, &GraphOptions::default()).unwrap().model;
    // No layer of its own: conv1 (with its ReLU) took it.
    assert_eq!((folded.spec.layers.len(), folded.spec.layers[0]), (spec.layers.len(), spec.layers[0]));
    assert_ne!(folded.layers[0], float.layers[0]);
    let dir = std::env::temp_dir().join(format!("alexnet-onnx-bn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bn.onnx");
    std::fs::write(&path, &bytes).unwrap();
    let images = shared::synthetic::images(&spec, 3, 4);
    let batch: Vec<f32> = images.iter().flat_map(|im| float.normalize(im)).collect();
    let tract_logits = TractRunner::load(&path, &spec, 3).unwrap().logits(&batch).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    for (i, im) in images.iter().enumerate() {
        let got = folded.forward(im);
        let want = &tract_logits[i * 10..][..10];
        let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        let worst = got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
        assert!(worst <= 1e-4 * scale, "image {i}: folded {got:?} vs tract {want:?}");
    }
}

/// Our own ONNX message types against tract's complete generated ones: every
/// field we write must come back under the same name in a full decoder.
#[test]
fn exported_bytes_decode_with_a_complete_onnx_schema() {
    use prost::Message;
    use tract_onnx::pb;
    let spec =
        shared::spec::AlexNetConfig::small(shared::spec::Shape::new(1, 28, 28), 10).with_width(0.125).build().unwrap();
    let model = FloatModel::random(&spec, 3);
    let ours = host::onnx::to_onnx(&model);
    let theirs = pb::ModelProto::decode(ours.encode_to_vec().as_slice()).unwrap();
    assert_eq!(theirs.ir_version, ours.ir_version);
    assert_eq!(theirs.producer_name, ours.producer_name);
    assert_eq!(theirs.opset_import[0].version, host::onnx::OPSET);
    assert_eq!(theirs.metadata_props.len(), ours.metadata_props.len());
    let (g, og) = (theirs.graph.unwrap(), ours.graph.unwrap());
    assert_eq!(g.node.len(), og.node.len());
    for (n, on) in g.node.iter().zip(&og.node) {
        assert_eq!((&n.op_type, &n.name, &n.input, &n.output), (&on.op_type, &on.name, &on.input, &on.output));
        for (a, oa) in n.attribute.iter().zip(&on.attribute) {
            assert_eq!((&a.name, a.r#type, a.i, a.f, &a.ints), (&oa.name, oa.r#type, oa.i, oa.f, &oa.ints));
        }
    }
    for (t, ot) in g.initializer.iter().zip(&og.initializer) {
        assert_eq!((&t.name, &t.dims, t.data_type, &t.raw_data), (&ot.name, &ot.dims, ot.data_type, &ot.raw_data));
    }
    let input = format!("{:?}", g.input[0]);
    assert!(input.contains("DimParam(\"batch\")") && input.contains("DimValue(28)"), "{input}");
}
