//! What the fuzz targets and the seed generator (`examples/seeds.rs`) share:
//! the small model the device target serves, the firmware's serve loop over
//! a byte string, and the input format of the link targets, which lets the
//! fuzzer write either raw line bytes or payloads that are framed correctly
//! for it (see [`line_bytes`]).

use shared::device::Device;
use shared::format::crc32;
use shared::link::{cobs_encode, encode_frame, FrameReader, Response, FRAME_GUARD, MAX_FRAME};
use shared::spec::{ConvSpec, DenseSpec, Layer, LrnSpec, ModelSpec, Normalize, PoolSpec, Shape};
use std::cell::Cell;

/// A model small enough to run thousands of times a second that still has
/// every layer kind: conv (one grouped), LRN, max pooling, two dense layers.
/// RGB, as most boards' models are: sizes the device computes from a
/// request's shape then reach 3 x 2^32 x 2^32.
pub fn tiny_spec() -> ModelSpec {
    let conv = |out_channels, groups| {
        Layer::Conv(ConvSpec { out_channels, kernel: 3, stride: 1, padding: 1, groups, relu: true })
    };
    let layers = [
        conv(4, 1),
        Layer::Lrn(LrnSpec::PAPER),
        Layer::MaxPool(PoolSpec::new(3, 2)),
        conv(4, 2),
        Layer::Dense(DenseSpec { out_features: 8, relu: true, dropout: false }),
        Layer::Dense(DenseSpec { out_features: 4, relu: false, dropout: false }),
    ];
    let spec =
        ModelSpec { input: Shape::new(3, 8, 8), normalize: Normalize::CIFAR10, resize: 0, layers: layers.into_iter().collect() };
    spec.validate().expect("the tiny spec is valid");
    spec
}

/// The int8 model file of [`tiny_spec`] with seeded random weights.
pub fn tiny_model_file() -> Vec<u8> {
    shared::synthetic::random_model(&tiny_spec(), 1, 2).expect("the tiny model quantizes").1
}

/// Appends `payload` to `line` as the link frames it: COBS over the payload
/// and its CRC-32, a delimiter, and the guard delimiter.
pub fn seal(payload: &[u8], line: &mut Vec<u8>) {
    let mut raw = payload.to_vec();
    raw.extend_from_slice(&crc32(payload).to_le_bytes());
    let mut encoded = vec![0u8; raw.len() + raw.len() / 254 + 2];
    let n = cobs_encode(&raw, &mut encoded).expect("sized for the worst case");
    line.extend_from_slice(&encoded[..n]);
    line.push(0);
    line.extend_from_slice(&FRAME_GUARD);
}

/// The line bytes a link target's input stands for. The first byte's low
/// bit picks the mode: 0, the rest is raw line bytes (noise, damage,
/// delimiters and all); 1, the rest is payloads, each a u16 LE length and
/// that many bytes, which [`seal`] frames with a correct CRC, so the fuzzer
/// reaches the message decoder without forging checksums. The other bits of
/// the first byte are left to the target.
pub fn line_bytes(data: &[u8]) -> Vec<u8> {
    let Some((&mode, mut rest)) = data.split_first() else { return Vec::new() };
    if mode & 1 == 0 {
        return rest.to_vec();
    }
    let mut line = Vec::new();
    while let [lo, hi, tail @ ..] = rest {
        let n = (u16::from_le_bytes([*lo, *hi]) as usize).min(tail.len());
        seal(&tail[..n], &mut line);
        rest = &tail[n..];
    }
    line
}

/// The input [`line_bytes`] turns into `payloads`, each framed: mode 1.
pub fn sealed_input(flags: u8, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut data = vec![flags | 1];
    for p in payloads {
        data.extend_from_slice(&(p.len() as u16).to_le_bytes());
        data.extend_from_slice(p);
    }
    data
}

/// Feeds `line` to `device` as `serve` in firmware/src/app.rs does (the
/// same `Device::answer` per frame), minus the serial port and the LED, until the line ends or a `Shutdown`; calls
/// `reply` with each reply the firmware would send. Panics if a reply does
/// not fit a frame (the firmware would send nothing, and the host wait).
pub fn serve(device: &mut Device, line: &[u8], mut reply: impl FnMut(u16, &Response)) {
    let mut reader = FrameReader::default();
    let mut out = [0u8; MAX_FRAME];
    let ticks = Cell::new(0u64);
    let cycles = || {
        ticks.set(ticks.get() + 7);
        ticks.get()
    };
    for &b in line {
        let Some(frame) = reader.push(b) else { continue };
        let (seq, response, shutdown) = device.answer(frame, &cycles);
        if let Err(e) = encode_frame(seq, &response, &mut out) {
            panic!("reply {response:?} does not fit a frame: {e}");
        }
        reply(seq, &response);
        if shutdown.is_some() {
            return;
        }
    }
}
