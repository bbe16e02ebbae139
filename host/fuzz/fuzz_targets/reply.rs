//! The host's reply decoder: line bytes through `FrameReader` and
//! `host::board::client::decode_reply` (COBS, CRC-32, the postcard
//! `Response` decoder), as `Client` reads a board. Checked: every frame is a
//! typed reply or its raw bytes back, never a panic; memory is bounded by
//! the frame size (the reader's fixed buffer, heapless vectors in replies);
//! a decoded reply encodes again to the same reply.
//!
//! Input: see `shared_fuzz::line_bytes` (raw line bytes, or payloads framed
//! with a correct CRC).
#![no_main]

use host::board::client::decode_reply;
use libfuzzer_sys::fuzz_target;
use shared::link::{decode_frame, encode_frame, FrameReader, Response, MAX_FRAME};

fuzz_target!(|data: &[u8]| {
    let mut reader = FrameReader::default();
    for b in shared_fuzz::line_bytes(data) {
        let Some(frame) = reader.push(b) else { continue };
        let Ok((seq, reply)) = decode_reply(frame) else { continue };
        let mut out = [0u8; MAX_FRAME];
        // A reply that decoded came in a frame, and postcard's encoding is
        // never longer than what it decoded; the delimiter is not in the body.
        let n = encode_frame(seq, &reply, &mut out).expect("a decoded reply fits a frame");
        let again: (u16, Response) = decode_frame(&mut out[..n - 1]).expect("an encoded reply decodes");
        assert_eq!(again, (seq, reply));
    }
});
