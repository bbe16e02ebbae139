//! Writing model files (needs `alloc`; the device only reads them), and an
//! owned 16-byte-aligned byte buffer to parse them from on the host.

extern crate alloc;

use super::meta::{DType, InputQuant, LayerQuant, ModelMeta, TensorEntry, TensorId, MAX_TENSORS};
use super::{align_up, crc32, FormatError, ALIGN, FORMAT_VERSION, MAGIC, PREAMBLE_LEN};
use crate::spec::ModelSpec;
use alloc::vec::Vec;

/// Collects tensors, then lays out a complete model file.
#[derive(Default)]
pub struct ModelBuilder {
    tensors: heapless::Vec<TensorEntry, MAX_TENSORS>,
    data: Vec<u8>,
    labels: Option<TensorId>,
}

impl ModelBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, dtype: DType, len: usize, bytes: &[u8]) -> TensorId {
        let offset = align_up(self.data.len() as u64);
        self.data.resize(offset as usize, 0);
        self.data.extend_from_slice(bytes);
        let id = self.tensors.len() as TensorId;
        let entry = TensorEntry { dtype, offset, len: len as u32 };
        assert!(self.tensors.push(entry).is_ok(), "more than {MAX_TENSORS} tensors");
        id
    }

    pub fn add_i8(&mut self, values: &[i8]) -> TensorId {
        self.push(DType::I8, values.len(), bytemuck::cast_slice(values))
    }

    pub fn add_i32(&mut self, values: &[i32]) -> TensorId {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push(DType::I32, values.len(), &bytes)
    }

    pub fn add_f32(&mut self, values: &[f32]) -> TensorId {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push(DType::F32, values.len(), &bytes)
    }

    /// Stores the class names (one per class, without line breaks).
    pub fn add_labels<S: AsRef<str>>(&mut self, names: &[S]) {
        let mut text = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                text.push(b'\n');
            }
            text.extend_from_slice(name.as_ref().as_bytes());
        }
        self.labels = Some(self.push(DType::Utf8, text.len(), &text));
    }

    /// The finished file. Fails only if the metadata does not serialize.
    pub fn finish(
        self,
        spec: ModelSpec,
        input: InputQuant,
        layers: heapless::Vec<LayerQuant, { crate::spec::MAX_LAYERS }>,
    ) -> Result<Vec<u8>, FormatError> {
        let meta = ModelMeta { spec, input, layers, tensors: self.tensors, labels: self.labels };
        write_file(&meta, &self.data)
    }
}

/// Lays out preamble, metadata, padding, tensor data and checksum.
pub fn write_file(meta: &ModelMeta, data: &[u8]) -> Result<Vec<u8>, FormatError> {
    let meta_bytes = postcard::to_extend(meta, Vec::new()).map_err(|_| FormatError::Malformed)?;
    let mut out = Vec::with_capacity(PREAMBLE_LEN + meta_bytes.len() + ALIGN + data.len() + 4);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(meta_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&meta_bytes);
    out.resize(align_up(out.len() as u64) as usize, 0);
    out.extend_from_slice(data);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Owned bytes whose start is 16-byte aligned, as [`super::Model::parse`]
/// requires (a `Vec<u8>` only guarantees 1).
#[derive(Clone)]
pub struct AlignedBytes {
    words: Vec<u128>,
    len: usize,
}

impl AlignedBytes {
    pub fn new(bytes: &[u8]) -> Self {
        let mut words = alloc::vec![0u128; bytes.len().div_ceil(16)];
        bytemuck::cast_slice_mut::<u128, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        AlignedBytes { words, len: bytes.len() }
    }
}

impl core::ops::Deref for AlignedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &bytemuck::cast_slice::<u128, u8>(&self.words)[..self.len]
    }
}

impl core::ops::DerefMut for AlignedBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<u128, u8>(&mut self.words)[..self.len]
    }
}
