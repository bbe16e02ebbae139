//! Writes a safetensors file one tensor at a time: the values of each tensor
//! are fetched only when the writer reaches it and dropped after it, so
//! saving the paper network (61 M parameters and as much momentum) holds
//! one tensor's copy (fc6, 151 MB) beside the training state, not the whole
//! model twice over as an in-memory serialization does.
//!
//! The layout is safetensors' own: an 8-byte little-endian header length,
//! the JSON header (padded with spaces to a multiple of 8), then the tensors'
//! little-endian bytes back to back in header order.

use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, Write};

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
    fn a_source_of_the_wrong_length_is_an_error_not_a_bad_file() {
        let tensors = vec![TensorEntry { name: "w".into(), shape: vec![4] }];
        let err = write_safetensors(&mut Vec::new(), &tensors, &HashMap::new(), |_| Cow::Owned(vec![1.0; 3]));
        assert!(err.unwrap_err().to_string().contains("3 values for shape [4]"));
    }
}
