//! Host-device messages and their framing over a serial line.
//!
//! A frame is `COBS(postcard(seq, message) ++ crc32) ++ 0x00`: the zero byte
//! delimits frames (so the reader resynchronizes after noise or a lost byte),
//! the CRC catches flipped bits, and the sequence number lets the host resend
//! a request whose reply was lost while the device answers a duplicate with
//! its stored reply instead of acting twice (stop-and-wait).

use crate::card::CardError;
use crate::format::{crc32, FormatError};
use crate::infer::Prediction;
use crate::spec::{Shape, MAX_LAYERS};
use heapless::Vec;
use serde::{Deserialize, Serialize};

/// 2: `LayerCycles`, `DeviceInfo::cores`. 3: test images on the card
/// (`InferCard`, `DeviceInfo::card`). 4: card images in batches
/// (`InferCardBatch`, `DeviceInfo::max_batch`, `LayerCycles::images`).
pub const PROTOCOL_VERSION: u16 = 4;
/// Most images one `InferCardBatch` runs (its reply must fit a frame).
pub const MAX_BATCH: usize = 8;
/// Image bytes carried by one chunk.
pub const CHUNK_LEN: usize = 512;
/// Largest decoded frame (message + CRC).
pub const MAX_PAYLOAD: usize = CHUNK_LEN + 64;
/// Largest encoded frame including COBS overhead and delimiter.
pub const MAX_FRAME: usize = MAX_PAYLOAD + MAX_PAYLOAD / 254 + 2;
/// Written after every frame by both ends: a second delimiter, so a line
/// that loses or damages one byte cannot join a frame to the next one (the
/// receiver would wait for its end until a deadline). Readers skip the
/// empty frame it makes.
pub const FRAME_GUARD: [u8; 1] = [0];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request<'a> {
    /// Asks for [`DeviceInfo`].
    Hello,
    /// An image of `shape` (one byte per value, CHW) follows in chunks; the
    /// device resizes it to the model's input if the shapes differ.
    BeginImage { id: u32, shape: Shape },
    ImageChunk {
        id: u32,
        offset: u32,
        #[serde(borrow)]
        data: &'a [u8],
    },
    /// Run the model on image `id`, whose bytes have CRC-32 `crc`.
    Infer { id: u32, crc: u32 },
    /// Run the model on test image `index` of the set stored after the model
    /// (`crate::card`); the result's id is `index`.
    InferCard { index: u32 },
    /// Run the model on these card images together, layer by layer over all
    /// of them, so a dense layer's weights are read once per four images
    /// instead of once per image; each answer is the one `InferCard` gives.
    /// At most [`DeviceInfo::max_batch`] images.
    InferCardBatch { indices: Vec<u32, MAX_BATCH> },
    /// Where the last inference spent its cycles, layer by layer.
    LayerCycles,
    /// Run each layer's parts one after another (see
    /// `parallel::Workers::run_parts_in_turn`) for exact per-core counts on a
    /// virtual board; the answers do not change.
    PartsInTurn { on: bool },
    /// Stop; under QEMU the process exits with `status`.
    Shutdown { status: u8 },
}

/// Why a model file was refused, without the details that need formatting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelError {
    Truncated,
    BadMagic,
    UnsupportedVersion { found: u16 },
    Misaligned,
    ChecksumMismatch,
    Malformed,
    BadSpec,
    LayerMismatch,
    TensorOutOfBounds,
    WrongTensorType,
    ShapeMismatch,
    BadQuantization,
    BadLabels,
}

impl From<FormatError> for ModelError {
    fn from(e: FormatError) -> Self {
        match e {
            FormatError::Truncated { .. } => ModelError::Truncated,
            FormatError::BadMagic => ModelError::BadMagic,
            FormatError::UnsupportedVersion { found, .. } => ModelError::UnsupportedVersion { found },
            FormatError::Misaligned => ModelError::Misaligned,
            FormatError::ChecksumMismatch { .. } => ModelError::ChecksumMismatch,
            FormatError::Malformed => ModelError::Malformed,
            FormatError::BadSpec(_) => ModelError::BadSpec,
            FormatError::LayerMismatch { .. } => ModelError::LayerMismatch,
            FormatError::TensorOutOfBounds { .. } => ModelError::TensorOutOfBounds,
            FormatError::WrongTensorType { .. } => ModelError::WrongTensorType,
            FormatError::ShapeMismatch { .. } => ModelError::ShapeMismatch,
            FormatError::BadQuantization { .. } => ModelError::BadQuantization,
            FormatError::BadLabels => ModelError::BadLabels,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The model in the device's memory was refused at boot.
    Model(ModelError),
    /// The model needs more working memory than the device reserved, in
    /// bytes (saturated at `u32::MAX`).
    ArenaTooSmall {
        needed: u32,
        available: u32,
    },
    /// The image is larger than the device's receive buffer.
    ImageTooLarge {
        len: u32,
        capacity: u32,
    },
    /// The image's channel count differs from the model's.
    ImageChannels {
        expected: u32,
        found: u32,
    },
    /// A chunk or `Infer` names an image other than the current one.
    UnknownImage,
    /// A chunk lies outside the announced image.
    ChunkOutOfBounds,
    /// `Infer` before every byte arrived, or with a CRC that does not match.
    ImageIncomplete,
    ImageCrcMismatch,
    /// The frame decoded but is not a request this device understands.
    BadRequest,
    /// `InferCard` for an image the card does not hold (`count` images,
    /// 0 when it holds no set).
    NoCardImage {
        index: u32,
        count: u32,
    },
    /// `InferCardBatch` with no image or more than the device runs at once
    /// with this model (`max`, from its working memory).
    BatchSize {
        count: u32,
        max: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub checksum: u32,
    pub file_len: u32,
    pub input: Shape,
    pub classes: u32,
    /// Bytes of working memory the plan needs.
    pub buffer_len: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub protocol: u16,
    pub firmware: [u8; 3],
    pub board: Board,
    pub format_version: u16,
    /// Cores that run inference.
    pub cores: u8,
    /// Working memory reserved for inference.
    pub buffer_capacity: u32,
    pub image_capacity: u32,
    pub model: Result<ModelInfo, ErrorCode>,
    /// The test images stored after the model, or why there are none.
    pub card: Result<CardInfo, CardError>,
    /// Most images one `InferCardBatch` takes with this model (each needs
    /// its own working memory); 0 without a model.
    pub max_batch: u8,
}

/// A test image set on the card (see `crate::card`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardInfo {
    pub images: u32,
    /// CRC-32 of the set's body: the host checks it against the set it would send.
    pub crc: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Board {
    Rpi3,
    Rpi4,
    /// `host serve`: the host program on a machine running an OS (a Pi
    /// under Linux, any aarch64 or x86-64 box), timed by its monotonic clock.
    Linux,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferResult {
    pub id: u32,
    pub top5: Vec<Prediction, 5>,
    /// Cycle-counter ticks the inference took (PMCCNTR_EL0); in a batch,
    /// the batch's ticks divided by its images (rounded down).
    pub cycles: u64,
}

/// Cycle-counter ticks of one inference by stage; they add up to its
/// [`InferResult::cycles`] (for a batch, to the batch's ticks: the figures
/// cover all its `images`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerCycles {
    /// The image the figures belong to (a batch's first).
    pub id: u32,
    /// Images the figures cover: 1, or a batch's count.
    pub images: u16,
    /// Resizing the image to the model's input and quantizing it.
    pub prepare: u64,
    /// One entry per layer of the spec, in order.
    pub layers: Vec<u64, MAX_LAYERS>,
    /// Per layer, where the board counts instructions (its PMU; QEMU only
    /// with `-icount`), else empty: on the critical path (the busiest core
    /// of each split) and on all cores together. Saturated at `u32::MAX`.
    pub critical: Vec<u32, MAX_LAYERS>,
    pub instructions: Vec<u32, MAX_LAYERS>,
}

// The layer-cycles reply is far larger than the others, but the device has no
// heap to box it in, and its replay slot must hold any reply.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Info(DeviceInfo),
    /// A chunk or `BeginImage` was taken.
    Ack,
    Result(InferResult),
    /// `InferCardBatch`'s answers, in the order of its indices.
    Results(Vec<InferResult, MAX_BATCH>),
    LayerCycles(LayerCycles),
    Error(ErrorCode),
    /// The request frame did not decode (CRC or format); resend it.
    Nak,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// The message does not fit in a frame.
    TooLarge,
    /// COBS structure broken (e.g. a corrupted length byte).
    Cobs,
    ChecksumMismatch,
    /// CRC fine but the content is not a message of the expected type.
    Decode,
}

impl core::error::Error for LinkError {}

impl core::fmt::Display for LinkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            LinkError::TooLarge => "message too large for a frame",
            LinkError::Cobs => "frame damaged (COBS)",
            LinkError::ChecksumMismatch => "frame damaged (CRC mismatch)",
            LinkError::Decode => "frame does not decode as a message",
        };
        f.write_str(s)
    }
}

/// COBS-encodes `src` into `dst`, returning the encoded length (no delimiter).
pub fn cobs_encode(src: &[u8], dst: &mut [u8]) -> Result<usize, LinkError> {
    let mut code_at = 0;
    let mut out = 1;
    let mut code = 1u8;
    for &b in src {
        if b == 0 {
            *dst.get_mut(code_at).ok_or(LinkError::TooLarge)? = code;
            code_at = out;
            out += 1;
            code = 1;
        } else {
            *dst.get_mut(out).ok_or(LinkError::TooLarge)? = b;
            out += 1;
            code += 1;
            if code == 0xFF {
                *dst.get_mut(code_at).ok_or(LinkError::TooLarge)? = code;
                code_at = out;
                out += 1;
                code = 1;
            }
        }
    }
    *dst.get_mut(code_at).ok_or(LinkError::TooLarge)? = code;
    Ok(out)
}

/// Decodes a COBS block (without delimiter) in place, returning its length.
pub fn cobs_decode_in_place(buf: &mut [u8]) -> Result<usize, LinkError> {
    let (mut read, mut write) = (0, 0);
    while read < buf.len() {
        let code = buf[read] as usize;
        if code == 0 || read + code > buf.len() {
            return Err(LinkError::Cobs);
        }
        read += 1;
        for _ in 1..code {
            buf[write] = buf[read];
            write += 1;
            read += 1;
        }
        if code < 0xFF && read < buf.len() {
            buf[write] = 0;
            write += 1;
        }
    }
    Ok(write)
}

/// Encodes `(seq, message)` as one delimited frame into `out`.
pub fn encode_frame<T: Serialize>(seq: u16, message: &T, out: &mut [u8; MAX_FRAME]) -> Result<usize, LinkError> {
    let mut raw = [0u8; MAX_PAYLOAD];
    let used = postcard::to_slice(&(seq, message), &mut raw[..MAX_PAYLOAD - 4]).map_err(|_| LinkError::TooLarge)?.len();
    let crc = crc32(&raw[..used]);
    raw[used..used + 4].copy_from_slice(&crc.to_le_bytes());
    let n = cobs_encode(&raw[..used + 4], &mut out[..MAX_FRAME - 1])?;
    out[n] = 0;
    Ok(n + 1)
}

/// Checks and decodes a frame body that [`FrameReader`] collected.
pub fn decode_frame<'de, T: Deserialize<'de>>(body: &'de mut [u8]) -> Result<(u16, T), LinkError> {
    let n = cobs_decode_in_place(body)?;
    if n < 4 {
        return Err(LinkError::ChecksumMismatch);
    }
    let (payload, crc) = body[..n].split_at(n - 4);
    if crc32(payload) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err(LinkError::ChecksumMismatch);
    }
    postcard::from_bytes(payload).map_err(|_| LinkError::Decode)
}

/// Collects bytes up to each zero delimiter.
pub struct FrameReader {
    buf: [u8; MAX_FRAME],
    len: usize,
    overflowed: bool,
}

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader { buf: [0; MAX_FRAME], len: 0, overflowed: false }
    }
}

/// What one byte completed.
pub enum Frame<'a> {
    /// A frame body (still COBS-encoded) for [`decode_frame`].
    Body(&'a mut [u8]),
    /// More bytes than any frame can have arrived before a delimiter.
    Overflow,
}

impl FrameReader {
    pub fn push(&mut self, byte: u8) -> Option<Frame<'_>> {
        if byte != 0 {
            if self.len < MAX_FRAME {
                self.buf[self.len] = byte;
                self.len += 1;
            } else {
                self.overflowed = true;
            }
            return None;
        }
        let (len, overflowed) = (self.len, self.overflowed);
        self.len = 0;
        self.overflowed = false;
        if overflowed {
            return Some(Frame::Overflow);
        }
        if len == 0 {
            // Back-to-back delimiters: nothing between them.
            return None;
        }
        Some(Frame::Body(&mut self.buf[..len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + core::fmt::Debug>(seq: u16, msg: &T) {
        let mut out = [0u8; MAX_FRAME];
        let n = encode_frame(seq, msg, &mut out).unwrap();
        assert_eq!(out[..n].iter().filter(|b| **b == 0).count(), 1, "only the delimiter is zero");
        let mut reader = FrameReader::default();
        let mut got = None;
        for &b in &out[..n] {
            if let Some(Frame::Body(body)) = reader.push(b) {
                let mut copy = std::vec::Vec::from(&*body);
                got = Some(decode_frame::<T>(&mut copy).unwrap());
            }
        }
        assert_eq!(got, Some((seq, msg_clone(msg))));
    }

    fn msg_clone<T: Serialize + for<'de> Deserialize<'de>>(msg: &T) -> T {
        postcard::from_bytes(&postcard::to_allocvec(msg).unwrap()).unwrap()
    }

    #[test]
    fn responses_round_trip() {
        let mut top5 = Vec::new();
        top5.push(Prediction { class: 3, logit: -5 }).unwrap();
        round_trip(7, &Response::Result(InferResult { id: 9, top5, cycles: u64::MAX }));
        round_trip(0, &Response::Error(ErrorCode::Model(ModelError::UnsupportedVersion { found: 2 })));
        round_trip(0, &Response::Error(ErrorCode::NoCardImage { index: u32::MAX, count: u32::MAX }));
        let layers = core::iter::repeat_n(u64::MAX, MAX_LAYERS).collect();
        let counts: Vec<u32, MAX_LAYERS> = core::iter::repeat_n(u32::MAX, MAX_LAYERS).collect();
        let largest = LayerCycles {
            id: u32::MAX,
            images: u16::MAX,
            prepare: u64::MAX,
            layers,
            critical: counts.clone(),
            instructions: counts,
        };
        round_trip(3, &Response::LayerCycles(largest));
        round_trip(
            1,
            &Response::Info(DeviceInfo {
                protocol: PROTOCOL_VERSION,
                firmware: [0, 1, 0],
                board: Board::Rpi3,
                format_version: 1,
                cores: 4,
                buffer_capacity: 1 << 22,
                image_capacity: 1 << 18,
                model: Err(ErrorCode::Model(ModelError::BadMagic)),
                card: Ok(CardInfo { images: u32::MAX, crc: u32::MAX }),
                max_batch: u8::MAX,
            }),
        );
        round_trip(0, &Response::Error(ErrorCode::BatchSize { count: u32::MAX, max: u32::MAX }));
        let worst = InferResult {
            id: u32::MAX,
            top5: (0..5).map(|_| Prediction { class: u16::MAX, logit: i8::MIN }).collect(),
            cycles: u64::MAX,
        };
        round_trip(5, &Response::Results(core::iter::repeat_n(worst, MAX_BATCH).collect()));
        let batch = Request::InferCardBatch { indices: core::iter::repeat_n(u32::MAX, MAX_BATCH).collect() };
        let mut out = [0u8; MAX_FRAME];
        let n = encode_frame(6, &batch, &mut out).unwrap();
        let mut body = std::vec::Vec::from(&out[..n - 1]);
        assert_eq!(decode_frame::<Request>(&mut body).unwrap(), (6, batch));
    }

    #[test]
    fn full_chunk_fits_a_frame() {
        let data = [0u8; CHUNK_LEN];
        let mut out = [0u8; MAX_FRAME];
        let msg = Request::ImageChunk { id: u32::MAX, offset: u32::MAX, data: &data };
        let n = encode_frame(u16::MAX, &msg, &mut out).unwrap();
        let mut body = std::vec::Vec::from(&out[..n - 1]);
        let (seq, back): (u16, Request) = decode_frame(&mut body).unwrap();
        assert_eq!((seq, back), (u16::MAX, msg));
    }

    proptest! {
        #[test]
        fn cobs_round_trips(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut enc = std::vec![0u8; data.len() + data.len() / 254 + 2];
            let n = cobs_encode(&data, &mut enc).unwrap();
            prop_assert!(!enc[..n].contains(&0));
            let m = cobs_decode_in_place(&mut enc[..n]).unwrap();
            prop_assert_eq!(&enc[..m], &data[..]);
        }

        /// Any flipped bit is caught (CRC or COBS), never mistaken for a message.
        #[test]
        fn flipped_bits_are_detected(at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let chunk = [0x5Au8; 100];
            let mut out = [0u8; MAX_FRAME];
            let n = encode_frame(3, &Request::ImageChunk { id: 1, offset: 200, data: &chunk }, &mut out).unwrap();
            let mut body = std::vec::Vec::from(&out[..n - 1]);
            let i = at.index(body.len());
            body[i] ^= 1 << bit;
            prop_assert!(decode_frame::<Request>(&mut body).is_err());
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut reader = FrameReader::default();
            for b in data {
                if let Some(Frame::Body(body)) = reader.push(b) {
                    let _ = decode_frame::<Request>(body);
                }
            }
        }
    }
}
