//! Writes and reads safetensors files one tensor at a time. The writer
//! fetches each tensor's values only when it reaches it and drops them
//! after, so saving the paper network (61 M parameters and as much
//! momentum) holds one tensor's copy (fc6, 151 MB) beside the training
//! state, not the whole model twice over as an in-memory serialization
//! does. The reader reads a tensor's bytes only when asked for it, so
//! loading that checkpoint holds its values, not also the file's 488 MB.
//!
//! The layout is safetensors' own: an 8-byte little-endian header length,
//! the JSON header (padded with spaces to a multiple of 8), then the tensors'
//! little-endian bytes back to back in header order.

use safetensors::tensor::{Dtype, Metadata};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// One F32 tensor to be written.
pub struct TensorEntry {
    pub name: String,
    pub shape: Vec<usize>,
}

impl TensorEntry {
    fn byte_len(&self) -> usize {
        4 * self.shape.iter().product::<usize>()
    }
}

/// Writes `tensors` with `metadata`; `values(i)` gives tensor `i`'s values,
/// which must hold as many numbers as its shape says.
pub fn write_safetensors<'a>(
    out: &mut dyn Write,
    tensors: &[TensorEntry],
    metadata: &HashMap<String, String>,
    mut values: impl FnMut(usize) -> Cow<'a, [f32]>,
) -> io::Result<()> {
    let mut header = Map::new();
    header.insert("__metadata__".into(), json!(metadata));
    let mut offset = 0;
    for t in tensors {
        let end = offset + t.byte_len();
        header.insert(t.name.clone(), json!({ "dtype": "F32", "shape": t.shape, "data_offsets": [offset, end] }));
        offset = end;
    }
    let mut header = Value::Object(header).to_string().into_bytes();
    header.resize(header.len().next_multiple_of(8), b' ');
    out.write_all(&(header.len() as u64).to_le_bytes())?;
    out.write_all(&header)?;

    let mut bytes = Vec::with_capacity(64 << 10);
    for (i, t) in tensors.iter().enumerate() {
        let v = values(i);
        if 4 * v.len() != t.byte_len() {
            return Err(io::Error::other(format!("{}: {} values for shape {:?}", t.name, v.len(), t.shape)));
        }
        for chunk in v.chunks(16 << 10) {
            bytes.clear();
            bytes.extend(chunk.iter().flat_map(|x| x.to_le_bytes()));
            out.write_all(&bytes)?;
        }
    }
    Ok(())
}

/// Why a safetensors file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The file is not a whole safetensors file.
    #[error("not a safetensors file ({0})")]
    Format(String),
    #[error("missing tensor {0}")]
    Missing(String),
    #[error("{name}: {dtype:?} {shape:?}, expected F32 {expected:?}")]
    Mismatch { name: String, dtype: Dtype, shape: Vec<usize>, expected: Vec<usize> },
}

/// The largest header read, safetensors' own limit.
const MAX_HEADER: u64 = 100_000_000;

/// A safetensors file opened for reading one tensor at a time. The header
/// is read and checked up front with the safetensors crate's own checks
/// (offsets back to back, sizes that match shapes), and the file must end
/// where the last tensor does.
pub struct SafetensorsReader<R> {
    source: R,
    /// Where the tensors' bytes start: after the length and the header.
    data_start: u64,
    header: Metadata,
}

impl<R: Read + Seek> SafetensorsReader<R> {
    pub fn new(mut source: R) -> Result<Self, ReadError> {
        let format = |why: String| ReadError::Format(why);
        let file_len = source.seek(SeekFrom::End(0))?;
        source.seek(SeekFrom::Start(0))?;
        if file_len < 8 {
            return Err(format(format!("{file_len} bytes, shorter than a header")));
        }
        let mut len = [0u8; 8];
        source.read_exact(&mut len)?;
        let header_len = u64::from_le_bytes(len);
        if header_len > MAX_HEADER.min(file_len - 8) {
            return Err(format(format!("a header of {header_len} bytes in a file of {file_len}")));
        }
        let mut header = vec![0u8; header_len as usize];
        source.read_exact(&mut header)?;
        let header: Metadata = serde_json::from_slice(&header).map_err(|e| format(format!("header: {e}")))?;
        let data_len = header.tensors().values().map(|t| t.data_offsets.1 as u64).max().unwrap_or(0);
        let data_start = 8 + header_len;
        if data_start + data_len != file_len {
            return Err(format(format!(
                "the header describes {} bytes, the file has {file_len}",
                data_start + data_len
            )));
        }
        Ok(SafetensorsReader { source, data_start, header })
    }

    /// The header's `__metadata__` (empty if it has none).
    pub fn metadata(&self) -> HashMap<String, String> {
        self.header.metadata().clone().unwrap_or_default()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.header.info(name).is_some()
    }

    /// Tensor `name`, which must be F32 of `shape`.
    pub fn read_f32(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ReadError> {
        let info = self.header.info(name).ok_or_else(|| ReadError::Missing(name.to_string()))?;
        if info.dtype != Dtype::F32 || info.shape != shape {
            let (dtype, shape, expected) = (info.dtype, info.shape.clone(), shape.to_vec());
            return Err(ReadError::Mismatch { name: name.to_string(), dtype, shape, expected });
        }
        let (begin, end) = info.data_offsets;
        self.source.seek(SeekFrom::Start(self.data_start + begin as u64))?;
        let mut values = Vec::with_capacity((end - begin) / 4);
        let mut bytes = vec![0u8; (64 << 10).min(end - begin)];
        let mut left = end - begin;
        while left > 0 {
            let chunk = &mut bytes[..left.min(64 << 10)];
            self.source.read_exact(chunk)?;
            values.extend(chunk.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
            left -= chunk.len();
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::{Dtype, SafeTensors};

    #[test]
    fn the_safetensors_crate_reads_what_it_writes() {
        let tensors = vec![
            TensorEntry { name: "b.weight".into(), shape: vec![2, 3] },
            TensorEntry { name: "a.bias".into(), shape: vec![5] },
            TensorEntry { name: "empty".into(), shape: vec![0] },
        ];
        let data: Vec<Vec<f32>> =
            vec![(0..6).map(|i| i as f32 * 0.5).collect(), vec![-1.0, 2.0, 3.5, f32::MAX, 0.0], vec![]];
        let meta = HashMap::from([("format".to_string(), "x/1".to_string())]);
        let mut file = Vec::new();
        write_safetensors(&mut file, &tensors, &meta, |i| Cow::Borrowed(&data[i][..])).unwrap();

        let st = SafeTensors::deserialize(&file).unwrap();
        for (t, values) in tensors.iter().zip(&data) {
            let view = st.tensor(&t.name).unwrap();
            assert_eq!((view.dtype(), view.shape()), (Dtype::F32, &t.shape[..]));
            let read: Vec<f32> =
                view.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
            assert_eq!(&read, values);
        }
        let (_, header) = SafeTensors::read_metadata(&file).unwrap();
        assert_eq!(header.metadata().as_ref(), Some(&meta));
    }

    #[test]
    fn the_reader_reads_what_the_writer_writes_and_checks_the_file() {
        let tensors = vec![
            TensorEntry { name: "w".into(), shape: vec![3, 40_000] },
            TensorEntry { name: "b".into(), shape: vec![3] },
            TensorEntry { name: "empty".into(), shape: vec![0] },
        ];
        let data: Vec<Vec<f32>> = vec![(0..120_000).map(|i| i as f32 - 0.25).collect(), vec![1.0, -2.0, 3.5], vec![]];
        let meta = HashMap::from([("format".to_string(), "x/1".to_string())]);
        let mut file = Vec::new();
        write_safetensors(&mut file, &tensors, &meta, |i| Cow::Borrowed(&data[i][..])).unwrap();

        let mut reader = SafetensorsReader::new(io::Cursor::new(&file)).unwrap();
        assert_eq!(reader.metadata(), meta);
        // Out of file order, and again: each read seeks to its tensor.
        for i in [1, 0, 2, 1] {
            assert_eq!(reader.read_f32(&tensors[i].name, &tensors[i].shape).unwrap(), data[i]);
        }
        assert!(reader.contains("b") && !reader.contains("c"));
        let err = reader.read_f32("b", &[4]).unwrap_err().to_string();
        assert_eq!(err, "b: F32 [3], expected F32 [4]");
        assert_eq!(reader.read_f32("c", &[1]).unwrap_err().to_string(), "missing tensor c");

        for (cut, why) in [(file.len() - 1, "the header describes"), (5, "shorter than a header")] {
            let err = SafetensorsReader::new(io::Cursor::new(&file[..cut])).err().unwrap().to_string();
            assert!(err.starts_with("not a safetensors file") && err.contains(why), "{err}");
        }
        let mut longer = file.clone();
        longer.push(0);
        assert!(SafetensorsReader::new(io::Cursor::new(&longer)).is_err());
        let mut huge_header = file.clone();
        huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(SafetensorsReader::new(io::Cursor::new(&huge_header)).is_err());
    }

    #[test]
    fn a_source_of_the_wrong_length_is_an_error_not_a_bad_file() {
        let tensors = vec![TensorEntry { name: "w".into(), shape: vec![4] }];
        let err = write_safetensors(&mut Vec::new(), &tensors, &HashMap::new(), |_| Cow::Owned(vec![1.0; 3]));
        assert!(err.unwrap_err().to_string().contains("3 values for shape [4]"));
    }
}
