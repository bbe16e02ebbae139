//! The virtual board (QEMU raspi3b running the real firmware image) against
//! the host: bit-identical results, refused models, damaged frames.

use e2e_tests::{assert_device_matches_host, boot, scratch_dir, shutdown};
use shared::format::{crc32, AlignedBytes};
use shared::link::{ErrorCode, ModelError};
use shared::spec::{AlexNetConfig, Shape};
use shared::synthetic;

fn tiny_model() -> (shared::ModelSpec, AlignedBytes) {
    let spec = AlexNetConfig::small(Shape::new(1, 32, 32), 10).with_width(0.25).build().unwrap();
    let (_, bytes) = synthetic::random_model(&spec, 21, 4).unwrap();
    (spec, AlignedBytes::new(&bytes))
}

#[test]
fn device_top5_is_bit_identical_to_host_int8() {
    let (spec, model) = tiny_model();
    let (qemu, mut client, info) = boot(&scratch_dir("bit_identical"), &model);
    let m = info.model.expect("model accepted");
    assert_eq!(m.checksum, crc32(&model[..model.len() - 4]));
    assert_eq!(m.input, spec.input);
    // Native-size images exercise the device-side resize; network-size ones
    // the straight copy.
    let native = Shape::new(1, 28, 28);
    let native_images: Vec<Vec<u8>> =
        (0..6).map(|k| (0..native.len()).map(|i| ((i * (k + 3)) % 251) as u8).collect()).collect();
    assert_device_matches_host(&mut client, &model, &native_images, native);
    let images = synthetic::images(&spec, 4, 5);
    let results = assert_device_matches_host(&mut client, &model, &images, spec.input);
    assert!(results.iter().all(|r| r.cycles > 0));
    // Every frame of an image at once, as `host run` sends to a virtual board.
    client.pipelined = true;
    let sent = client.stats.frames_sent;
    assert_device_matches_host(&mut client, &model, &native_images, native);
    assert_device_matches_host(&mut client, &model, &images, spec.input);
    let frames_per_image = |shape: Shape| 2 + shape.len().div_ceil(shared::link::CHUNK_LEN) as u64;
    assert_eq!(
        client.stats.frames_sent - sent,
        6 * frames_per_image(native) + 4 * frames_per_image(spec.input),
        "each image's frames sent once: {:?}",
        client.stats
    );
    // A slow, shared machine may time out and resend (the device drops the
    // duplicate by sequence number), but nothing on a clean link is damaged.
    assert_eq!(client.stats.naks, 0, "a clean link damages no frame: {:?}", client.stats);
    shutdown(qemu, client, 0);
}

#[test]
fn damaged_frames_are_detected_and_resent() {
    let (spec, model) = tiny_model();
    let (qemu, mut client, _) = boot(&scratch_dir("damaged_frames"), &model);
    client.faults.corrupt_every = 3;
    let images = synthetic::images(&spec, 3, 9);
    assert_device_matches_host(&mut client, &model, &images, spec.input);
    assert!(client.stats.naks > 0 && client.stats.resends > 0, "{:?}", client.stats);
    // Frames sent back to back: a damaged one sends the image again, one
    // reply per frame.
    client.pipelined = true;
    let (naks, resends) = (client.stats.naks, client.stats.resends);
    assert_device_matches_host(&mut client, &model, &images, spec.input);
    assert!(client.stats.naks > naks && client.stats.resends > resends, "{:?}", client.stats);
    client.faults.corrupt_every = 0;
    shutdown(qemu, client, 0);
}

#[test]
fn corrupted_model_is_refused_with_an_error_reply() {
    let (spec, model) = tiny_model();
    let mut bad = model.to_vec();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    let (qemu, mut client, info) = boot(&scratch_dir("corrupted_model"), &bad);
    assert_eq!(info.model, Err(ErrorCode::Model(ModelError::ChecksumMismatch)));
    let image = synthetic::images(&spec, 1, 1).remove(0);
    let err = client.infer(0, &image, spec.input).unwrap_err();
    assert!(matches!(err, host::board::BoardError::Device(ErrorCode::Model(ModelError::ChecksumMismatch))), "{err}");
    shutdown(qemu, client, 3);
}

#[test]
fn newer_format_version_is_refused() {
    let (_, model) = tiny_model();
    let mut newer = model.to_vec();
    newer[8..10].copy_from_slice(&(shared::format::FORMAT_VERSION + 1).to_le_bytes());
    let (qemu, client, info) = boot(&scratch_dir("newer_version"), &newer);
    let found = shared::format::FORMAT_VERSION + 1;
    assert_eq!(info.model, Err(ErrorCode::Model(ModelError::UnsupportedVersion { found })));
    shutdown(qemu, client, 0);
}

#[test]
fn a_failing_board_stops_the_run_with_its_own_error() {
    use host::board::firmware_image::{self, BoardKind};
    use host::board::qemu::QemuOptions;
    use host::board::session::{run_images_on_boards, Target, TestImage, BOOT_TIMEOUT};

    let (spec, model) = tiny_model();
    let dir = scratch_dir("failing_board");
    let model_path = dir.join("model.axq");
    std::fs::write(&model_path, &model[..]).unwrap();
    let image = dir.join("qemu.img");
    firmware_image::build(&model_path, BoardKind::QemuRpi3, &image, shared::settings::FLASH_BAUD).unwrap();
    let mut images: Vec<TestImage> = synthetic::images(&spec, 40, 2)
        .into_iter()
        .map(|pixels| TestImage { pixels, shape: spec.input, label: 0 })
        .collect();
    // The second board's first image is short of its declared shape.
    images[20].pixels.truncate(10);
    let target = Target::Qemu { image, options: QemuOptions::default() };
    let checksum = shared::Model::parse(&model).unwrap().checksum();
    let err = run_images_on_boards(&target, 2, checksum, &images, BOOT_TIMEOUT).unwrap_err();
    assert!(err.to_string().contains("ImageIncomplete"), "the failing board's error: {err}");
}

/// Images through a line that damages 1% of the bytes each way (flipped
/// bits, dropped and doubled bytes, stalled writes): every answer is still
/// the host's, bit for bit, and the damage shows in the resends.
#[test]
fn one_percent_byte_damage_each_way_stays_bit_exact() {
    let (spec, model) = tiny_model();
    let (qemu, mut client, _) = boot(&scratch_dir("noisy_link"), &model);
    client.pipelined = true;
    client.add_noise(0.01, 2012);
    let images = synthetic::images(&spec, IMAGES_THROUGH_NOISE, 17);
    let start = std::time::Instant::now();
    assert_device_matches_host(&mut client, &model, &images, spec.input);
    let (sent, received) = client.damaged();
    println!(
        "{} images at 1% byte damage in {:.1?}: {sent} bytes damaged on the way out, {received} on the way back; {:?}; chunk now {} bytes",
        images.len(),
        start.elapsed(),
        client.stats,
        client.chunk_len()
    );
    assert!(sent > 0 && received > 0 && client.stats.resends > 0, "{:?}", client.stats);
    client.add_noise(0.0, 0);
    shutdown(qemu, client, 0);
}

const IMAGES_THROUGH_NOISE: usize = 1000;

/// At 30% byte damage nothing gets through: the request ends with a clear
/// error after a bounded number of tries, never a hang or a wrong answer.
#[test]
fn thirty_percent_byte_damage_ends_in_a_clear_error() {
    let (spec, model) = tiny_model();
    let (_qemu, mut client, _) = boot(&scratch_dir("hopeless_link"), &model);
    client.add_noise(0.3, 7);
    let image = synthetic::images(&spec, 1, 3).remove(0);
    let start = std::time::Instant::now();
    let err = client.infer(0, &image, spec.input).expect_err("nothing passes 30% damage");
    println!("30% byte damage: {err} after {:.1?}; {:?}", start.elapsed(), client.stats);
    assert!(err.to_string().contains("no valid reply from the board"), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(90), "took {:?}", start.elapsed());
}
