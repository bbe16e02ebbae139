//! A CIFAR-10 binary batch file as `Cifar10::open` reads it
//! (`cifar10::check_batch`). Checked: a typed error or the batch, never a
//! panic; a batch that passes is whole 3073-byte records (label, then a
//! 3x32x32 image) with labels 0..=9, which the dataset's readers index
//! without further checks; memory is the file's.
#![no_main]

use host::data::cifar10::{check_batch, CLASSES};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

/// One label byte and a 3x32x32 image.
const RECORD: usize = 1 + 3 * 32 * 32;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = check_batch(Path::new("test_batch.bin"), data.to_vec()) {
        assert!(!records.is_empty() && records.len().is_multiple_of(RECORD));
        assert!(records.chunks_exact(RECORD).all(|r| (r[0] as usize) < CLASSES.len()));
    }
});
