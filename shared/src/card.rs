//! Test images stored on the board's card: `host flash --images` appends
//! them to the boot image after the model, and the board runs them from
//! memory when the host asks (`Request::InferCard`), sending back only each
//! image's top-5 and cycle count. So a real board's compute speed is
//! measured without the serial line in the way, and a virtual board's run
//! is not paced by its emulated UART.
//!
//! Layout (little-endian), starting at the first 16-byte boundary after the
//! model file:
//!
//! ```text
//! header (32 bytes): magic "AXIMGS01", version u16, reserved u16, count u32,
//!                    body length u32, body CRC-32 u32, 8 reserved bytes
//! body: count table entries (16 bytes: data offset u32 from the body's
//!       start, channels u16, height u16, width u16, reserved u16, length
//!       u32), then the images' bytes (CHW, one byte per value)
//! ```
//!
//! The CRC covers the whole body, so a card that lost or flipped a byte is
//! refused at boot, as a damaged model is.

#[cfg(feature = "alloc")]
extern crate alloc;

use crate::format::crc32;
use crate::spec::Shape;

pub const MAGIC: [u8; 8] = *b"AXIMGS01";
pub const VERSION: u16 = 1;
pub const HEADER_LEN: usize = 32;
pub const ENTRY_LEN: usize = 16;
/// The image set starts this many bytes after a multiple of it.
pub const ALIGN: usize = 16;

/// Where the image set starts, relative to the model's first byte.
pub fn offset_after_model(model_len: usize) -> usize {
    model_len.div_ceil(ALIGN) * ALIGN
}

/// Why an image set was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CardError {
    /// No image set: the bytes after the model do not start with the magic.
    Absent,
    UnsupportedVersion {
        found: u16,
    },
    /// The header's lengths run past the memory that holds the set.
    Truncated,
    ChecksumMismatch,
    /// A table entry points outside the body or its length is not its shape's.
    BadEntry {
        index: u32,
    },
}

impl core::fmt::Display for CardError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CardError::Absent => write!(f, "no test images after the model"),
            CardError::UnsupportedVersion { found } => {
                write!(f, "test image set version {found}, this build reads {VERSION}")
            }
            CardError::Truncated => write!(f, "test image set truncated"),
            CardError::ChecksumMismatch => write!(f, "test image set damaged (CRC mismatch)"),
            CardError::BadEntry { index } => write!(f, "test image {index}: entry out of bounds"),
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A parsed, checked image set, read in place.
#[derive(Clone, Copy, Debug)]
pub struct CardImages<'a> {
    body: &'a [u8],
    count: u32,
    crc: u32,
}

impl<'a> CardImages<'a> {
    /// Checks the set at the start of `bytes` (which may run on past its
    /// end: a board's memory region). Every entry is checked here, so
    /// [`get`](Self::get) cannot fail for an index below [`len`](Self::len).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CardError> {
        if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
            return Err(CardError::Absent);
        }
        let version = u16_at(bytes, 8);
        if version != VERSION {
            return Err(CardError::UnsupportedVersion { found: version });
        }
        let count = u32_at(bytes, 12);
        let body_len = u32_at(bytes, 16) as usize;
        let crc = u32_at(bytes, 20);
        let body = bytes.get(HEADER_LEN..HEADER_LEN.saturating_add(body_len)).ok_or(CardError::Truncated)?;
        let table_len = (count as usize).checked_mul(ENTRY_LEN).filter(|t| *t <= body.len());
        table_len.ok_or(CardError::Truncated)?;
        if crc32(body) != crc {
            return Err(CardError::ChecksumMismatch);
        }
        let set = CardImages { body, count, crc };
        for index in 0..count {
            set.entry(index).ok_or(CardError::BadEntry { index })?;
        }
        Ok(set)
    }

    fn entry(&self, index: u32) -> Option<(Shape, &'a [u8])> {
        if index >= self.count {
            return None;
        }
        let e = &self.body[index as usize * ENTRY_LEN..][..ENTRY_LEN];
        let shape = Shape::new(u16_at(e, 4) as u32, u16_at(e, 6) as u32, u16_at(e, 8) as u32);
        let (offset, len) = (u32_at(e, 0) as usize, u32_at(e, 12) as usize);
        if shape.checked_len() != Some(len) || len == 0 {
            return None;
        }
        let data = self.body.get(offset..offset.checked_add(len)?)?;
        Some((shape, data))
    }

    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The body's CRC-32: what the host checks a set against its own.
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// Image `index`: its shape and bytes.
    pub fn get(&self, index: u32) -> Option<(Shape, &'a [u8])> {
        self.entry(index)
    }
}

/// Why images could not be written as a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// A dimension over 65,535 or a set over 4 GiB.
    TooLarge,
}

/// The image set file for `images` (shape and bytes each).
#[cfg(feature = "alloc")]
pub fn write<'i>(
    images: impl ExactSizeIterator<Item = (Shape, &'i [u8])> + Clone,
) -> Result<alloc::vec::Vec<u8>, WriteError> {
    let count = images.len();
    let table_len = count.checked_mul(ENTRY_LEN).ok_or(WriteError::TooLarge)?;
    let data_len: usize = images.clone().map(|(_, b)| b.len()).sum();
    let body_len = u32::try_from(table_len + data_len).map_err(|_| WriteError::TooLarge)?;
    let mut body = alloc::vec::Vec::with_capacity(body_len as usize);
    let mut offset = table_len;
    for (shape, bytes) in images.clone() {
        let dim = |d: u32| u16::try_from(d).map_err(|_| WriteError::TooLarge);
        if shape.checked_len() != Some(bytes.len()) {
            return Err(WriteError::TooLarge);
        }
        body.extend_from_slice(&(offset as u32).to_le_bytes());
        for d in [shape.c, shape.h, shape.w] {
            body.extend_from_slice(&dim(d)?.to_le_bytes());
        }
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        offset += bytes.len();
    }
    for (_, bytes) in images {
        body.extend_from_slice(bytes);
    }
    let mut out = alloc::vec::Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(count as u32).to_le_bytes());
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(&crc32(&body).to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (std::vec::Vec<(Shape, std::vec::Vec<u8>)>, std::vec::Vec<u8>) {
        let images: std::vec::Vec<(Shape, std::vec::Vec<u8>)> =
            [Shape::new(1, 28, 28), Shape::new(3, 5, 7), Shape::new(1, 1, 1)]
                .iter()
                .enumerate()
                .map(|(k, s)| (*s, (0..s.len()).map(|i| (i * 7 + k) as u8).collect()))
                .collect();
        let file = write(images.iter().map(|(s, b)| (*s, b.as_slice()))).unwrap();
        (images, file)
    }

    #[test]
    fn written_sets_read_back_image_for_image() {
        let (images, mut file) = sample();
        // A board's region runs on past the set.
        file.extend_from_slice(&[0xAA; 100]);
        let set = CardImages::parse(&file).unwrap();
        assert_eq!(set.len(), 3);
        for (k, (shape, bytes)) in images.iter().enumerate() {
            assert_eq!(set.get(k as u32), Some((*shape, bytes.as_slice())));
        }
        assert_eq!(set.get(3), None);
        let empty = write(core::iter::empty::<(Shape, &[u8])>()).unwrap();
        assert!(CardImages::parse(&empty).unwrap().is_empty());
    }

    #[test]
    fn damaged_sets_are_refused_with_their_reason() {
        let (_, file) = sample();
        assert_eq!(CardImages::parse(&[0u8; 64]).unwrap_err(), CardError::Absent);
        let mut newer = file.clone();
        newer[8] = 2;
        assert_eq!(CardImages::parse(&newer).unwrap_err(), CardError::UnsupportedVersion { found: 2 });
        assert_eq!(CardImages::parse(&file[..file.len() - 1]).unwrap_err(), CardError::Truncated);
        let mut flipped = file.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(CardImages::parse(&flipped).unwrap_err(), CardError::ChecksumMismatch);
        // An entry whose length is not its shape's, with a CRC to match.
        let mut lying = file.clone();
        lying[HEADER_LEN + 12] = 1;
        let crc = crc32(&lying[HEADER_LEN..]);
        lying[20..24].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(CardImages::parse(&lying).unwrap_err(), CardError::BadEntry { index: 0 });
    }

    #[test]
    fn the_set_starts_at_the_next_16_byte_boundary() {
        assert_eq!(offset_after_model(0), 0);
        assert_eq!(offset_after_model(1), 16);
        assert_eq!(offset_after_model(32), 32);
        assert_eq!(offset_after_model(33), 48);
    }
}
