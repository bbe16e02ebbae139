//! Tensors whose values live in a file beside the model: ONNX's external
//! data (`data_location` EXTERNAL, with `location`, `offset` and `length`
//! entries), which exporters write for large models (PyTorch's default
//! exporter does so for AlexNet's 244 MB). Each tensor's bytes are read from
//! its file on their own, into the tensor, so the weights are never held
//! twice. `location` is relative to the model's folder and may not leave it.

use crate::import::error::ImportError;
use crate::onnx::proto::TensorProto;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

/// ONNX's `DataLocation::EXTERNAL`.
const EXTERNAL: i32 = 1;

/// Whether `t`'s values are in an external file.
pub(super) fn is_external(t: &TensorProto) -> bool {
    t.data_location == EXTERNAL
}

fn error(t: &TensorProto, reason: impl Into<String>) -> ImportError {
    ImportError::Tensor { name: t.name.clone(), reason: reason.into() }
}

/// Reads `t`'s values from its external file under `dir` into its
/// `raw_data`, after which it decodes as a tensor stored inline. `dir` is
/// the model file's folder; without one (a model given as bytes) external
/// data is refused.
pub(super) fn load(t: &mut TensorProto, dir: Option<&Path>) -> Result<(), ImportError> {
    let entry = |key: &str| t.external_data.iter().find(|e| e.key == key).map(|e| e.value.as_str());
    let number = |key: &str| -> Result<Option<u64>, ImportError> {
        entry(key)
            .map(|v| v.parse::<u64>().map_err(|_| error(t, format!("external data {key} '{v}' is not a number"))))
            .transpose()
    };
    let location = entry("location").ok_or_else(|| error(t, "external data without a location"))?;
    let (offset, length) = (number("offset")?.unwrap_or(0), number("length")?);
    let relative = Path::new(location);
    if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(error(t, format!("external data location '{location}' is not a path inside the model's folder")));
    }
    let dir =
        dir.ok_or_else(|| error(t, format!("its values are in '{location}', and the model's folder is not known")))?;
    let path = dir.join(relative);
    let mut file =
        std::fs::File::open(&path).map_err(|e| error(t, format!("external data file {}: {e}", path.display())))?;
    let size = file.metadata().map_err(|e| error(t, format!("external data file {}: {e}", path.display())))?.len();
    let length = length.unwrap_or(size.saturating_sub(offset));
    let end = offset.checked_add(length).filter(|end| *end <= size);
    if end.is_none() {
        return Err(error(
            t,
            format!(
                "external data file {} holds {size} bytes, the tensor needs {length} from offset {offset}",
                path.display()
            ),
        ));
    }
    let length = usize::try_from(length).map_err(|_| error(t, "external data too large for this machine"))?;
    let mut bytes = vec![0u8; length];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut bytes))
        .map_err(|e| error(t, format!("external data file {}: {e}", path.display())))?;
    t.raw_data = bytes;
    t.data_location = 0;
    t.external_data.clear();
    Ok(())
}
