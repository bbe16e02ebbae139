//! The device's request path as the firmware's serve loop
//! (`firmware/src/app.rs`) runs it: line bytes through `FrameReader`, COBS
//! and CRC-32 (`decode_frame`), the postcard `Request` decoder, the `Device`
//! state machine serving a small valid model (inference included), and the
//! reply through `encode_frame` (see `shared_fuzz::serve`). Checked: every
//! frame gets a typed reply or a NAK, never a panic; every reply fits a
//! frame (the firmware would send nothing otherwise); memory stays in the
//! fixed buffers the device is given.
//!
//! Input: see `shared_fuzz::line_bytes` (raw line bytes, or payloads framed
//! with a correct CRC); bit 1 of the first byte serves a refused model
//! instead, as a board does whose model failed its check at boot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::device::Device;
use shared::format::AlignedBytes;
use shared::link::{Board, ErrorCode, ModelError};
use shared::{Engine, Model};
use std::sync::OnceLock;

/// Bytes of received image the device holds (the firmware's is 256 KiB; a
/// smaller one reaches the same checks with less memset per run).
const IMAGE_LEN: usize = 64 << 10;

fn model() -> &'static Model<'static> {
    // Two statics rather than a leaked box: the leak checker sees both.
    static FILE: OnceLock<AlignedBytes> = OnceLock::new();
    static MODEL: OnceLock<Model<'static>> = OnceLock::new();
    MODEL.get_or_init(|| {
        let file = FILE.get_or_init(|| AlignedBytes::new(&shared_fuzz::tiny_model_file()));
        Model::parse(file).expect("the tiny model parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let line = shared_fuzz::line_bytes(data);
    let refused = data.first().is_some_and(|f| f & 2 != 0);
    let model = model();
    let arena_len = Engine::new(model).expect("the tiny model plans").buffer_len();
    let (mut arena, mut image) = (vec![0u8; arena_len], vec![0u8; IMAGE_LEN]);
    let loaded = if refused { Err(ErrorCode::Model(ModelError::ChecksumMismatch)) } else { Ok(model) };
    let mut device = Device::new(loaded, &mut arena, &mut image, Board::Rpi3, [0, 1, 0]);
    shared_fuzz::serve(&mut device, &line, |_, _| {});
});
