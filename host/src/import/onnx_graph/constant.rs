//! An ONNX tensor (an initializer or a Constant node's value) decoded into
//! the values the importer reads: float32 weights with their dimensions, or
//! int64 lists (shapes, and booleans as 0 or 1), or the int8, uint8 and
//! int32 tensors of a quantized model. Values in external files are read into the tensor
//! first (`external.rs`).

use crate::import::error::ImportError;
use crate::onnx::proto::{data_type, TensorProto};

/// A float constant's dimensions and values.
pub(super) type Weights = (Vec<usize>, Vec<f32>);

/// A constant tensor: its dimensions and values.
#[derive(Clone, Debug)]
pub(super) enum Constant {
    Float {
        dims: Vec<usize>,
        values: Vec<f32>,
    },
    Int {
        values: Vec<i64>,
    },
    /// INT8, UINT8 or INT32 values (quantized weights, zero points, biases).
    Quantized {
        dims: Vec<usize>,
        values: Vec<i32>,
        kind: IntKind,
    },
}

/// The integer type of a [`Constant::Quantized`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IntKind {
    Int8,
    Uint8,
    Int32,
}

impl IntKind {
    pub(super) fn name(self) -> &'static str {
        match self {
            IntKind::Int8 => "int8",
            IntKind::Uint8 => "uint8",
            IntKind::Int32 => "int32",
        }
    }
}

fn tensor_error(t: &TensorProto, reason: impl Into<String>) -> ImportError {
    ImportError::Tensor { name: t.name.clone(), reason: reason.into() }
}

pub(super) fn decode_tensor(t: &TensorProto) -> Result<Constant, ImportError> {
    if super::external::is_external(t) {
        return Err(tensor_error(t, "its values are in an external file, which is read only for initializers"));
    }
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| tensor_error(t, format!("negative dimension in {:?}", t.dims)))?;
    let count = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(|| tensor_error(t, "too large"))?;
    let check = |n: usize| {
        if n == count {
            Ok(())
        } else {
            Err(tensor_error(t, format!("{n} values for dimensions {dims:?}")))
        }
    };
    match t.data_type {
        data_type::FLOAT => {
            let values: Vec<f32> = if t.raw_data.is_empty() {
                t.float_data.clone()
            } else {
                if !t.raw_data.len().is_multiple_of(4) {
                    return Err(tensor_error(t, "raw data is not a whole number of float32 values"));
                }
                t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            };
            check(values.len())?;
            Ok(Constant::Float { dims, values })
        }
        data_type::INT64 => {
            let values: Vec<i64> = if t.raw_data.is_empty() {
                t.int64_data.clone()
            } else {
                if !t.raw_data.len().is_multiple_of(8) {
                    return Err(tensor_error(t, "raw data is not a whole number of int64 values"));
                }
                // Cannot fail: chunks_exact(8) yields 8-byte slices only.
                t.raw_data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
            };
            check(values.len())?;
            Ok(Constant::Int { values })
        }
        data_type::BOOL => {
            // Flags such as Dropout's training_mode, as 0 or 1.
            let values: Vec<i64> = if t.raw_data.is_empty() {
                t.int32_data.iter().map(|&v| (v != 0) as i64).collect()
            } else {
                t.raw_data.iter().map(|&v| (v != 0) as i64).collect()
            };
            check(values.len())?;
            Ok(Constant::Int { values })
        }
        data_type::INT8 | data_type::UINT8 | data_type::INT32 => {
            let kind = match t.data_type {
                data_type::INT8 => IntKind::Int8,
                data_type::UINT8 => IntKind::Uint8,
                _ => IntKind::Int32,
            };
            let values: Vec<i32> = match (t.raw_data.is_empty(), kind) {
                (true, _) => t.int32_data.clone(),
                (false, IntKind::Int8) => t.raw_data.iter().map(|&b| b as i8 as i32).collect(),
                (false, IntKind::Uint8) => t.raw_data.iter().map(|&b| b as i32).collect(),
                (false, IntKind::Int32) => {
                    if !t.raw_data.len().is_multiple_of(4) {
                        return Err(tensor_error(t, "raw data is not a whole number of int32 values"));
                    }
                    t.raw_data.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
                }
            };
            check(values.len())?;
            Ok(Constant::Quantized { dims, values, kind })
        }
        other => Err(tensor_error(
            t,
            format!(
                "{} values; the importer reads FLOAT weights (INT8, UINT8 and INT32 in quantized models)",
                data_type::name(other)
            ),
        )),
    }
}
