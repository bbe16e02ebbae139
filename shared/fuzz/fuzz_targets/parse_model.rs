//! Arbitrary bytes as a model file: `Model::parse` must return a typed error
//! or a model, and a model that parses must plan and run without panicking,
//! in bounded memory (models whose input or arena is huge are parsed, not run).
//!
//! Where the header's lengths fit the input, the target first rewrites the
//! CRC-32 after the tensor data to match (as the property tests in
//! shared/tests/format.rs reseal theirs), so mutations reach the metadata
//! and tensor checks instead of stopping at the checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::format::{crc32, AlignedBytes, CRC_LEN, PREAMBLE_LEN};
use shared::{Engine, Model};

/// Where the tensor data ends by the header's own lengths, if inside `bytes`
/// with room for the CRC (the layout in shared/src/format/mod.rs).
fn data_end(bytes: &[u8]) -> Option<usize> {
    let header = bytes.get(..PREAMBLE_LEN)?;
    let meta_len = u32::from_le_bytes(header[12..16].try_into().ok()?) as u64;
    let blob_len = u64::from_le_bytes(header[16..24].try_into().ok()?);
    let end = (PREAMBLE_LEN as u64 + meta_len).div_ceil(16).checked_mul(16)?.checked_add(blob_len)?;
    let end = usize::try_from(end).ok()?;
    (end.checked_add(CRC_LEN)? <= bytes.len()).then_some(end)
}

fuzz_target!(|data: &[u8]| {
    let mut buf = AlignedBytes::new(data);
    if let Some(end) = data_end(&buf) {
        let crc = crc32(&buf[..end]);
        buf[end..end + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    }
    if let Ok(model) = Model::parse(&buf) {
        // A valid spec can still be huge; keep the fuzzer's memory bounded.
        if model.spec().input.len() > 1 << 20 {
            return;
        }
        if let Ok(engine) = Engine::new(&model) {
            if engine.buffer_len() <= 64 << 20 {
                let mut arena = vec![0u8; engine.buffer_len()];
                let image = vec![128u8; model.spec().input.len()];
                let _ = engine.run(&image, &mut arena);
            }
        }
    }
});
