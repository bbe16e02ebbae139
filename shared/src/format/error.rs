//! Every way a model file can be wrong, as a plain enum (no_std).

use crate::spec::SpecError;
use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// Fewer bytes than the header says the file has.
    Truncated {
        needed: u64,
        found: u64,
    },
    /// Not a model file (or a text-mode transfer mangled it).
    BadMagic,
    /// Written by a newer (or unknown) version of the format.
    UnsupportedVersion {
        found: u16,
        supported: u16,
    },
    /// The buffer or a tensor is not 16-byte aligned.
    Misaligned,
    ChecksumMismatch {
        stored: u32,
        computed: u32,
    },
    /// The metadata does not decode, or reserved fields are set.
    Malformed,
    BadSpec(SpecError),
    /// The quantization list does not follow the layer list.
    LayerMismatch {
        layer: u16,
    },
    /// A tensor reference points outside the tensor table or the file.
    TensorOutOfBounds {
        tensor: u16,
    },
    /// A tensor's element type is not what its role needs.
    WrongTensorType {
        tensor: u16,
    },
    /// A tensor's length disagrees with the spec.
    ShapeMismatch {
        layer: u16,
        expected: u32,
        found: u32,
    },
    /// Scales, zero points or fixed-point multipliers out of range, or a layer
    /// whose input quantization differs from its producer's output.
    BadQuantization {
        layer: u16,
    },
    /// The class names are not UTF-8 text with one line per class.
    BadLabels,
}

impl From<SpecError> for FormatError {
    fn from(e: SpecError) -> Self {
        FormatError::BadSpec(e)
    }
}

impl core::error::Error for FormatError {}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Truncated { needed, found } => {
                write!(f, "truncated model file: needs {needed} bytes, has {found}")
            }
            FormatError::BadMagic => write!(f, "not an AlexNet int8 model file (bad magic)"),
            FormatError::UnsupportedVersion { found, supported } => {
                write!(f, "model file format version {found} is not supported (this build reads version {supported})")?;
                if found < supported {
                    write!(f, "; re-run `host quantize` to write it in the current format")?;
                }
                Ok(())
            }
            FormatError::Misaligned => write!(f, "model data is not 16-byte aligned"),
            FormatError::ChecksumMismatch { stored, computed } => {
                write!(f, "model file is corrupt: checksum {computed:#010x} does not match stored {stored:#010x}")
            }
            FormatError::Malformed => write!(f, "model metadata is malformed"),
            FormatError::BadSpec(e) => write!(f, "model spec is invalid: {e}"),
            FormatError::LayerMismatch { layer } => {
                write!(f, "layer {layer}: quantization entry does not match the spec")
            }
            FormatError::TensorOutOfBounds { tensor } => write!(f, "tensor {tensor} lies outside the file"),
            FormatError::WrongTensorType { tensor } => write!(f, "tensor {tensor} has the wrong element type"),
            FormatError::ShapeMismatch { layer, expected, found } => {
                write!(f, "layer {layer}: tensor has {found} elements, spec needs {expected}")
            }
            FormatError::BadQuantization { layer } => write!(f, "layer {layer}: quantization parameters out of range"),
            FormatError::BadLabels => write!(f, "the class names are not UTF-8 with one line per class"),
        }
    }
}
