//! int8 inference end to end inside `shared`: fast kernels equal the
//! references over whole models, and int8 tracks the f32 network.

mod common;

use shared::infer::Kernels;
use shared::layers::softmax::top_k;
use shared::parallel::{OneCore, Threads};
use shared::spec::{AlexNetConfig, Shape};
use shared::{Engine, Model};

#[test]
fn fast_and_reference_kernels_agree_on_a_whole_model() {
    let spec = common::tiny_spec();
    let (_, file) = common::quantized(&spec, 3, 8);
    let model = Model::parse(&file).unwrap();
    let fast = Engine::new(&model).unwrap();
    let reference = Engine::new(&model).unwrap().with_kernels(Kernels::Reference);
    let mut a = vec![0u8; fast.buffer_len()];
    let mut b = vec![0u8; fast.buffer_len()];
    for image in common::images(&spec, 6, 99) {
        let top_fast = fast.run(&image, &mut a).unwrap();
        let top_ref = reference.run(&image, &mut b).unwrap();
        assert_eq!(top_fast, top_ref);
        assert_eq!(fast.logits(&a), reference.logits(&b));
    }
}

#[test]
fn the_answer_does_not_depend_on_the_number_of_cores() {
    // Grouped convolutions, LRN, pooling and dense layers whose channel and
    // panel counts do not split evenly over 3 parts.
    let spec = AlexNetConfig::small(Shape::new(3, 40, 40), 7).with_width(0.3).build().unwrap();
    let (_, file) = common::quantized(&spec, 21, 4);
    let model = Model::parse(&file).unwrap();
    let engine = Engine::new(&model).unwrap();
    let mut one = vec![0u8; engine.buffer_len()];
    let mut many = vec![0u8; engine.buffer_len()];
    for image in common::images(&spec, 3, 5) {
        engine.input_region(&mut one).unwrap().copy_from_slice(&image);
        let want = engine.run_in_place_on(&mut one, &OneCore, |_| {}).unwrap();
        for cores in [2, 3, 4] {
            engine.input_region(&mut many).unwrap().copy_from_slice(&image);
            assert_eq!(engine.run_in_place_on(&mut many, &Threads(cores), |_| {}).unwrap(), want);
            assert_eq!(engine.logits(&many), engine.logits(&one), "{cores} cores");
        }
    }
}

#[test]
fn a_batch_gives_each_image_its_own_answer() {
    // 7 images: one full group of four for the dense layers and a partial one.
    let spec = AlexNetConfig::small(Shape::new(3, 40, 40), 7).with_width(0.3).build().unwrap();
    let (_, file) = common::quantized(&spec, 22, 4);
    let model = Model::parse(&file).unwrap();
    let engine = Engine::new(&model).unwrap();
    let images = common::images(&spec, 7, 8);
    let mut one = vec![0u8; engine.buffer_len()];
    let mut bufs: Vec<Vec<u8>> = images.iter().map(|_| vec![0u8; engine.buffer_len()]).collect();
    for (buf, image) in bufs.iter_mut().zip(&images) {
        engine.input_region(buf).unwrap().copy_from_slice(image);
    }
    let mut views: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
    engine.run_batch_in_place(&mut views).unwrap();
    for (buf, image) in bufs.iter().zip(&images) {
        let want = engine.run(image, &mut one).unwrap();
        assert_eq!(engine.top5(buf), want);
        assert_eq!(engine.logits(buf), engine.logits(&one));
    }
    // Split over cores, as a board runs a batch: the same bits, and every
    // layer reported once.
    for cores in [2, 3, 4] {
        let mut split: Vec<Vec<u8>> = images.iter().map(|_| vec![0u8; engine.buffer_len()]).collect();
        for (buf, image) in split.iter_mut().zip(&images) {
            engine.input_region(buf).unwrap().copy_from_slice(image);
        }
        let mut views: Vec<&mut [u8]> = split.iter_mut().map(|b| b.as_mut_slice()).collect();
        let mut layers = Vec::new();
        engine.run_batch_in_place_on(&mut views, &Threads(cores), |index| layers.push(index)).unwrap();
        assert_eq!(layers, (0..spec.layers.len()).collect::<Vec<_>>());
        for (got, want) in split.iter().zip(&bufs) {
            assert_eq!(engine.logits(got), engine.logits(want), "{cores} cores");
        }
    }
}

#[test]
fn int8_tracks_float() {
    let spec = common::tiny_spec();
    let (float, file) = common::quantized(&spec, 5, 16);
    let model = Model::parse(&file).unwrap();
    let engine = Engine::new(&model).unwrap();
    let mut arena = vec![0u8; engine.buffer_len()];
    let out_qp = model.output_qparams();
    let (mut same_top1, mut worst) = (0, 0.0f32);
    let images = common::images(&spec, 40, 1234);
    for image in &images {
        let logits_f = float.forward(image);
        let top = engine.run(image, &mut arena).unwrap();
        let deq: Vec<f32> = engine.logits(&arena).iter().map(|q| out_qp.dequantize(*q)).collect();
        let spread =
            logits_f.iter().fold(f32::MIN, |m, v| m.max(*v)) - logits_f.iter().fold(f32::MAX, |m, v| m.min(*v));
        let err = deq.iter().zip(&logits_f).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / spread;
        worst = worst.max(err);
        let f_top: heapless::Vec<usize, 1> = top_k(&logits_f);
        same_top1 += (f_top[0] == top[0].class as usize) as usize;
    }
    println!(
        "int8 vs f32: top-1 agreement {same_top1}/{}, worst logit error {:.1}% of spread",
        images.len(),
        worst * 100.0
    );
    assert!(worst < 0.15, "worst logit error {worst}");
    assert!(same_top1 * 10 >= images.len() * 8, "top-1 agreement {same_top1}");
}

#[test]
fn paper_model_runs_in_its_plan() {
    let spec = AlexNetConfig::paper().build().unwrap();
    let (float, file) = common::quantized(&spec, 11, 1);
    let model = Model::parse(&file).unwrap();
    assert!(file.len() > 60_965_224, "one byte per weight at least");
    let engine = Engine::new(&model).unwrap();
    let mut arena = vec![0u8; engine.buffer_len()];
    let image = &common::images(&spec, 1, 77)[0];
    let top = engine.run(image, &mut arena).unwrap();
    assert_eq!(top.len(), 5);
    let logits_f = float.forward(image);
    let f_top: heapless::Vec<usize, 5> = top_k(&logits_f);
    let overlap = top.iter().filter(|p| f_top.contains(&(p.class as usize))).count();
    println!("paper AlexNet int8 top-5 {:?}, f32 top-5 {:?}", top.iter().map(|p| p.class).collect::<Vec<_>>(), f_top);
    assert!(overlap >= 3, "int8 and f32 top-5 share {overlap} classes");
}
