//! The paper-size AlexNet (227x227x3, 1000 classes, ~61 MB int8, seeded
//! random weights) on both virtual boards (Pi 3 and Pi 4 firmware): one
//! image each, bit-identical to the host.

use e2e_tests::{assert_device_matches_host, boot_with, scratch_dir, shutdown};
use host::board::qemu::{QemuOptions, VirtualBoard};
use shared::float::FloatModel;
use shared::format::AlignedBytes;
use shared::spec::{AlexNetConfig, Shape};
use shared::synthetic;
use std::time::Instant;

#[test]
fn paper_alexnet_on_the_virtual_board_matches_host() {
    let spec = AlexNetConfig::paper().build().unwrap();
    // A small RGB image keeps the serial transfer short; the device resizes
    // it to 227x227 exactly as the host does. Calibrating on it keeps the
    // random network's logits inside the int8 range (no ties at 127).
    let shape = Shape::new(3, 48, 48);
    let image: Vec<u8> = (0..shape.len()).map(|i| ((i * 37 + i / 97) % 256) as u8).collect();
    let mut resized = vec![0u8; spec.input.len()];
    shared::image::resize_bilinear(&image, shape, &mut resized, spec.input);
    let t = Instant::now();
    let bytes = synthetic::quantize_calibrated(&FloatModel::random(&spec, 2012), &[resized]).unwrap();
    let model = AlignedBytes::new(&bytes);
    assert!(model.len() > 61_000_000);
    println!("quantized paper model: {} bytes in {:.1?}", model.len(), t.elapsed());
    for board in [VirtualBoard::Rpi3, VirtualBoard::Rpi4] {
        let t = Instant::now();
        let options = QemuOptions { board, ..QemuOptions::default() };
        let (qemu, mut client, info) =
            boot_with(&scratch_dir(&format!("paper_model_{}", board.machine())), &model, options);
        let m = info.model.expect("paper model accepted by the firmware");
        assert_eq!(info.cores, 4, "{board:?}: every core takes part in inference");
        println!(
            "{} up in {:.1?}: needs {} of {} bytes of working memory",
            board.machine(),
            t.elapsed(),
            m.buffer_len,
            info.buffer_capacity
        );
        let t = Instant::now();
        let r = assert_device_matches_host(&mut client, &model, std::slice::from_ref(&image), shape);
        println!("{} top-5 {:?} in {:.1?}, {} emulated ns", board.machine(), r[0].top5, t.elapsed(), r[0].cycles);
        let logits: Vec<i8> = r[0].top5.iter().map(|p| p.logit).collect();
        assert!(logits.windows(2).any(|w| w[0] != w[1]), "top-5 logits all tie: {logits:?}");
        shutdown(qemu, client, 0);
    }
}
