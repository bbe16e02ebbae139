//! Helpers for the end-to-end tests in `tests/tests/`: build a boot image for
//! a model, boot the virtual board, and compare its answers with the host's.

use host::board::client::Client;
use host::board::firmware_image::{self, BoardKind};
use host::board::qemu::{Qemu, QemuOptions};
use shared::format::AlignedBytes;
use shared::image::resize_bilinear;
use shared::link::{DeviceInfo, InferResult};
use shared::spec::Shape;
use shared::{Engine, Model, Top5};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A scratch directory for one test, under the target directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target").join("e2e").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Boots the virtual Pi 3 with `model_bytes` appended to the firmware.
pub fn boot(dir: &Path, model_bytes: &[u8]) -> (Qemu, Client, DeviceInfo) {
    boot_with(dir, model_bytes, QemuOptions::default())
}

/// Boots the virtual board `options.board` with `model_bytes` appended to
/// its firmware.
pub fn boot_with(dir: &Path, model_bytes: &[u8], options: QemuOptions) -> (Qemu, Client, DeviceInfo) {
    let model = dir.join("model.axq");
    std::fs::write(&model, model_bytes).expect("write model");
    let image = dir.join(format!("{}.img", options.board.machine()));
    firmware_image::build(&model, BoardKind::from(options.board), &image, shared::settings::FLASH_BAUD)
        .expect("build firmware image");
    let (qemu, transport) = Qemu::start(&image, options).expect("start qemu");
    let mut client = Client::new(transport);
    client.await_ready(host::board::session::BOOT_TIMEOUT).expect("board boots");
    let info = client.hello(host::board::session::BOOT_TIMEOUT).expect("board answers hello");
    (qemu, client, info)
}

/// The host's int8 top-5 for an image of `shape` (resized like the device does).
pub fn host_top5(model_bytes: &AlignedBytes, image: &[u8], shape: Shape) -> Top5 {
    let model = Model::parse(model_bytes).expect("model parses on host");
    let engine = Engine::new(&model).expect("engine");
    let mut buf = vec![0u8; engine.buffer_len()];
    let mut resized = vec![0u8; model.spec().input.len()];
    resize_bilinear(image, shape, &mut resized, model.spec().input);
    engine.run(&resized, &mut buf).expect("host inference")
}

/// Runs each image on the board and checks the result against the host's.
pub fn assert_device_matches_host(
    client: &mut Client,
    model_bytes: &AlignedBytes,
    images: &[Vec<u8>],
    shape: Shape,
) -> Vec<InferResult> {
    images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let r = client.infer(i as u32, image, shape).expect("device inference");
            assert_eq!(r.top5, host_top5(model_bytes, image, shape), "image {i}: device and host differ");
            r
        })
        .collect()
}

/// Asks the board to stop and checks that QEMU exits with `status`.
pub fn shutdown(mut qemu: Qemu, mut client: Client, status: u8) {
    client.shutdown(status).expect("shutdown acknowledged");
    let exit = qemu.wait(Duration::from_secs(20)).expect("wait for qemu").expect("qemu exits after shutdown");
    assert_eq!(exit.code(), Some(status as i32));
}
