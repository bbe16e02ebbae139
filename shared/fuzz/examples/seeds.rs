//! Writes the committed seed corpus of this crate's fuzz targets into
//! `seeds/<target>/`: `cargo run --example seeds` (from shared/fuzz). Small
//! valid inputs, so fuzzing starts from the files and frames the board reads.

use shared::device::Device;
use shared::format::{crc32, write_file, AlignedBytes};
use shared::link::{encode_frame, Board, ErrorCode, Request, Response, FRAME_GUARD, MAX_FRAME};
use shared::spec::Shape;
use shared::Model;
use std::path::Path;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
    println!("seeds/{target}/{name}: {} bytes", bytes.len());
}

/// `requests` numbered from 1, as raw line bytes (mode 0) and as framed
/// payloads (mode 1) of `shared_fuzz::line_bytes`.
fn link_seeds(name: &str, requests: &[Request]) {
    let mut raw = vec![0u8];
    let mut payloads = Vec::new();
    for (seq, request) in (1u16..).zip(requests) {
        let mut frame = [0u8; MAX_FRAME];
        let n = encode_frame(seq, request, &mut frame).unwrap();
        raw.extend_from_slice(&frame[..n]);
        raw.extend_from_slice(&FRAME_GUARD);
        payloads.push(postcard::to_allocvec(&(seq, request)).unwrap());
    }
    check_replies(name, &raw[1..]);
    write("device_link", &format!("{name}-raw"), &raw);
    write("device_link", &format!("{name}-framed"), &shared_fuzz::sealed_input(0, &payloads));
}

/// Shows what the device answers to `line`: a seed that meets only errors
/// would start the fuzzer in the wrong place.
fn check_replies(name: &str, line: &[u8]) {
    let file = AlignedBytes::new(&shared_fuzz::tiny_model_file());
    let model = Model::parse(&file).unwrap();
    let (mut arena, mut image) = (vec![0u8; 1 << 20], vec![0u8; 4096]);
    let mut device = Device::new(Ok(&model), &mut arena, &mut image, Board::Rpi3, [0, 1, 0]);
    shared_fuzz::serve(&mut device, line, |seq, reply| {
        let kind = format!("{reply:?}");
        println!("{name}: {seq} -> {}", kind.split(['(', ' ']).next().unwrap_or(""));
        // The device here has no test images on its card: requests for them
        // are refused, as the seed means them to be.
        let no_card = matches!(reply, Response::Error(ErrorCode::NoCardImage { count: 0, .. }));
        assert!(no_card || !matches!(reply, Response::Error(_) | Response::Nak), "{name}: {seq} -> {reply:?}");
    });
}

/// The tiny model with an input of 4 x (2^32-1) x (2^32-1) and a valid
/// checksum: validating its first convolution once overflowed
/// (shared/tests/fuzz_regressions.rs).
fn huge_input_model() -> Vec<u8> {
    let tiny = AlignedBytes::new(&shared_fuzz::tiny_model_file());
    let model = Model::parse(&tiny).unwrap();
    let mut meta = model.meta().clone();
    meta.spec.input = Shape::new(4, u32::MAX, u32::MAX);
    write_file(&meta, model.tensor_data()).unwrap()
}

fn main() {
    write("parse_model", "tiny.model", &shared_fuzz::tiny_model_file());
    write("parse_model", "regression-huge-input.model", &huge_input_model());

    link_seeds("hello", &[Request::Hello, Request::Shutdown { status: 0 }]);
    // A native-size image, then one the device resizes (3x12x12 to 3x8x8),
    // sent in two chunks, with the profile of the last inference.
    let native: Vec<u8> = (0..3 * 64u32).map(|i| (i * 37 % 256) as u8).collect();
    let large: Vec<u8> = (0..3 * 144u32).map(|i| (i * 11 % 256) as u8).collect();
    link_seeds(
        "infer",
        &[
            Request::Hello,
            Request::BeginImage { id: 1, shape: Shape::new(3, 8, 8) },
            Request::ImageChunk { id: 1, offset: 0, data: &native },
            Request::Infer { id: 1, crc: crc32(&native) },
            Request::PartsInTurn { on: true },
            Request::BeginImage { id: 2, shape: Shape::new(3, 12, 12) },
            Request::ImageChunk { id: 2, offset: 0, data: &large[..300] },
            Request::ImageChunk { id: 2, offset: 300, data: &large[300..] },
            Request::Infer { id: 2, crc: crc32(&large) },
            Request::LayerCycles,
            // A device without test images on its card refuses these.
            Request::InferCard { index: 0 },
            Request::InferCardBatch { indices: [0, 1].into_iter().collect() },
        ],
    );
}
