//! The paper-size AlexNet-227 with seeded random weights: the plain f32
//! reference in `shared`, the dfdx network and tract running the exported
//! ONNX graph compute the same logits (within float rounding) and the same
//! top-5 on a batch of images.

use dfdx::prelude::*;
use host::onnx::{export, TractRunner};
use host::train::model::AlexNet;
use host::train::trainer::top5;
use shared::float::FloatModel;
use shared::spec::AlexNetConfig;

#[test]
fn paper_network_agrees_across_reference_dfdx_and_tract() {
    let spec = AlexNetConfig::paper().build().unwrap();
    assert_eq!(spec.param_count(), 60_965_224);
    let float = FloatModel::random(&spec, 2012);
    let images = host::random_model::synthetic_images(&spec, 2, 5);
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
