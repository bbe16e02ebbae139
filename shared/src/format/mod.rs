//! The int8 model file. Layout (little-endian):
//!
//! ```text
//! 0   magic        8 bytes  "\x89AXNQ8\r\n" (PNG-style: catches 7-bit and text-mode transfers)
//! 8   version      u16      FORMAT_VERSION
//! 10  reserved     u16      0
//! 12  meta_len     u32      length of the postcard metadata
//! 16  blob_len     u64      length of the tensor data
//! 24  reserved     u64      0
//! 32  metadata     postcard ModelMeta: spec, per-layer quantization, tensor table
//!     zero padding to a multiple of 16
//!     tensor data  every tensor 16-byte aligned (offsets relative to this point)
//!     crc32        u32 over every byte before it
//! ```
//!
//! [`Model::parse`] checks all of it and then lends the tensors in place:
//! nothing is copied, which matters for a 61 MB model on a board.

mod crc32;
mod error;
mod meta;
mod parse;
#[cfg(any(feature = "alloc", test))]
mod write;

pub use crc32::{crc32, Crc32};
pub use error::FormatError;
pub use meta::{DType, InputQuant, LayerQuant, LrnQuant, ModelMeta, TensorEntry, TensorId, WeightedQuant, MAX_TENSORS};
pub use parse::Model;
#[cfg(any(feature = "alloc", test))]
pub use write::{write_file, AlignedBytes, ModelBuilder};

pub const MAGIC: [u8; 8] = *b"\x89AXNQ8\r\n";
/// 2: weights packed in panel order with their per-channel sums.
/// 3: average pooling; the spec carries the photo resize before the crop.
/// 4: max pooling carries its padding (padded and ceil-mode pooling).
pub const FORMAT_VERSION: u16 = 4;
pub const PREAMBLE_LEN: usize = 32;
/// Alignment of the file start (the caller's buffer) and of every tensor.
pub const ALIGN: usize = 16;
pub const CRC_LEN: usize = 4;

pub(crate) const fn align_up(n: u64) -> u64 {
    n.div_ceil(ALIGN as u64) * ALIGN as u64
}
