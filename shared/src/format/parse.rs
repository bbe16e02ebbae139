//! Parsing and validating a model file, and the borrowed view it yields.
//! Every check happens here, once, so the accessors afterwards cannot fail
//! and the inference loop needs no error paths for bad files.

use super::meta::{DType, LayerQuant, ModelMeta, TensorEntry, TensorId, WeightedQuant};
use super::{align_up, crc32, FormatError, ALIGN, CRC_LEN, FORMAT_VERSION, MAGIC, PREAMBLE_LEN};
use crate::layers::conv::{ConvGeometry, ConvI8Params, OutputStage};
use crate::layers::lrn::{lrn_table_len, LrnI8Params, LRN_TABLE_LIMIT};
use crate::layers::packed::{PackedWeights, PANEL_DEPTH, PANEL_ROWS};
use crate::quant::{QParams, Requant};
use crate::spec::{Layer, LayerInfo, ModelSpec};

/// A validated int8 model whose tensors borrow the file's bytes.
#[derive(Clone, Debug)]
pub struct Model<'a> {
    meta: ModelMeta,
    data: &'a [u8],
    checksum: u32,
    file_len: usize,
}

fn read_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

impl<'a> Model<'a> {
    /// Checks `bytes` (which must start 16-byte aligned) and returns a view
    /// of the model. Trailing bytes after the checksum are ignored, so a
    /// model can be read from a larger memory region.
    pub fn parse(bytes: &'a [u8]) -> Result<Model<'a>, FormatError> {
        let found = bytes.len() as u64;
        if bytes.len() < PREAMBLE_LEN {
            return Err(FormatError::Truncated { needed: PREAMBLE_LEN as u64, found });
        }
        if bytes[..8] != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let version = read_u16(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
        }
        if read_u16(bytes, 10) != 0 || read_u64(bytes, 24) != 0 {
            return Err(FormatError::Malformed);
        }
        let meta_len = read_u32(bytes, 12) as u64;
        let blob_len = read_u64(bytes, 16);
        let data_start = align_up(PREAMBLE_LEN as u64 + meta_len);
        let data_end = data_start.checked_add(blob_len).ok_or(FormatError::Malformed)?;
        let needed = data_end.checked_add(CRC_LEN as u64).ok_or(FormatError::Malformed)?;
        if found < needed {
            return Err(FormatError::Truncated { needed, found });
        }
        // Lengths now fit in usize: they are bounded by the slice's length.
        let (data_start, data_end) = (data_start as usize, data_end as usize);
        if !(bytes.as_ptr() as usize).is_multiple_of(ALIGN) {
            return Err(FormatError::Misaligned);
        }
        let stored = read_u32(bytes, data_end);
        let computed = crc32(&bytes[..data_end]);
        if stored != computed {
            return Err(FormatError::ChecksumMismatch { stored, computed });
        }
        let meta_bytes = &bytes[PREAMBLE_LEN..PREAMBLE_LEN + meta_len as usize];
        let meta: ModelMeta = match postcard::from_bytes(meta_bytes) {
            Ok(m) => m,
            Err(_) => return Err(FormatError::Malformed),
        };
        let model = Model { meta, data: &bytes[data_start..data_end], checksum: stored, file_len: data_end + CRC_LEN };
        model.validate()?;
        Ok(model)
    }

    fn validate(&self) -> Result<(), FormatError> {
        let spec = &self.meta.spec;
        spec.validate()?;
        for (i, t) in self.meta.tensors.iter().enumerate() {
            let bytes = t.len as u64 * t.dtype.size() as u64;
            let end = t.offset.checked_add(bytes).ok_or(FormatError::TensorOutOfBounds { tensor: i as u16 })?;
            if end > self.data.len() as u64 {
                return Err(FormatError::TensorOutOfBounds { tensor: i as u16 });
            }
            if !t.offset.is_multiple_of(ALIGN as u64) {
                return Err(FormatError::Misaligned);
            }
        }
        if let Some(id) = self.meta.labels {
            let t = self.entry(id).ok_or(FormatError::TensorOutOfBounds { tensor: id })?;
            let text = core::str::from_utf8(self.tensor_bytes(id)).map_err(|_| FormatError::BadLabels)?;
            if t.dtype != DType::Utf8 || text.split('\n').count() != spec.classes() as usize {
                return Err(FormatError::BadLabels);
            }
        }
        let input = &self.meta.input;
        let channels = spec.input.c as usize;
        let input_ok = input.output.is_valid() && input.requant[..channels].iter().all(Requant::is_valid);
        let mean_ok = input.mean[..channels].iter().all(|m| (0..=255).contains(m));
        if !input_ok || !mean_ok {
            return Err(FormatError::BadQuantization { layer: 0 });
        }
        if self.meta.layers.len() != spec.layers.len() {
            return Err(FormatError::LayerMismatch { layer: self.meta.layers.len().min(spec.layers.len()) as u16 });
        }
        let mut producer = input.output;
        for (info, quant) in spec.walk().zip(self.meta.layers.iter()) {
            let layer = info.index as u16;
            let bad_quant = FormatError::BadQuantization { layer };
            if quant.input() != producer || !quant.input().is_valid() || !quant.output().is_valid() {
                return Err(bad_quant);
            }
            producer = quant.output();
            match (info.layer, quant) {
                (Layer::Conv(_), LayerQuant::Conv(w)) | (Layer::Dense(_), LayerQuant::Dense(w)) => {
                    self.validate_weighted(&info, w)?
                }
                (Layer::Lrn(spec), LayerQuant::Lrn(l)) => {
                    self.check_tensor(l.table, DType::I32, layer, lrn_table_len(spec.size))?;
                    // What `build_lrn_table` writes; the fast kernels rely on it.
                    let entries_ok = self.tensor_i32(l.table).iter().all(|t| (0..LRN_TABLE_LIMIT).contains(t));
                    if !l.params.is_valid(spec.size) || !entries_ok {
                        return Err(bad_quant);
                    }
                }
                (Layer::MaxPool(_), LayerQuant::MaxPool(_)) | (Layer::AvgPool(_), LayerQuant::AvgPool(_)) => {}
                _ => return Err(FormatError::LayerMismatch { layer }),
            }
        }
        Ok(())
    }

    fn validate_weighted(&self, info: &LayerInfo, w: &WeightedQuant) -> Result<(), FormatError> {
        let layer = info.index as u16;
        let channels = info.output.c as usize;
        let layout = weighted(info).0.packed_layout();
        self.check_tensor(w.weights, DType::I8, layer, layout.len())?;
        self.check_tensor(w.weight_sums, DType::I32, layer, channels)?;
        self.check_tensor(w.weight_scales, DType::F32, layer, channels)?;
        self.check_tensor(w.bias, DType::I32, layer, channels)?;
        self.check_tensor(w.multiplier, DType::I32, layer, channels)?;
        self.check_tensor(w.shift, DType::I32, layer, channels)?;
        let multipliers = self.tensor_i32(w.multiplier);
        let shifts = self.tensor_i32(w.shift);
        let all_valid = multipliers.iter().zip(shifts).all(|(m, s)| Requant { multiplier: *m, shift: *s }.is_valid());
        let packed = PackedWeights { layout, data: self.tensor_i8(w.weights), sums: self.tensor_i32(w.weight_sums) };
        if !all_valid || !packed_weights_are_canonical(&packed) {
            return Err(FormatError::BadQuantization { layer });
        }
        Ok(())
    }

    fn check_tensor(&self, id: TensorId, dtype: DType, layer: u16, expected: usize) -> Result<(), FormatError> {
        let t = self.entry(id).ok_or(FormatError::TensorOutOfBounds { tensor: id })?;
        if t.dtype != dtype {
            return Err(FormatError::WrongTensorType { tensor: id });
        }
        if t.len as usize != expected {
            return Err(FormatError::ShapeMismatch { layer, expected: expected as u32, found: t.len });
        }
        Ok(())
    }

    fn entry(&self, id: TensorId) -> Option<&TensorEntry> {
        self.meta.tensors.get(id as usize)
    }

    fn tensor_bytes(&self, id: TensorId) -> &'a [u8] {
        // Validated in `parse`: the entry exists and lies inside `data`.
        let t = self.meta.tensors[id as usize];
        let start = t.offset as usize;
        &self.data[start..start + t.len as usize * t.dtype.size()]
    }

    pub fn tensor_i8(&self, id: TensorId) -> &'a [i8] {
        bytemuck::cast_slice(self.tensor_bytes(id))
    }

    /// Cannot panic after `parse`: the file start and every offset are
    /// 16-byte aligned and lengths are whole elements.
    pub fn tensor_i32(&self, id: TensorId) -> &'a [i32] {
        bytemuck::cast_slice(self.tensor_bytes(id))
    }

    pub fn tensor_f32(&self, id: TensorId) -> &'a [f32] {
        bytemuck::cast_slice(self.tensor_bytes(id))
    }

    /// The class names in class order, if the file has them.
    pub fn labels(&self) -> Option<core::str::Split<'a, char>> {
        // Validated in `parse`: UTF-8 with one line per class.
        let id = self.meta.labels?;
        core::str::from_utf8(self.tensor_bytes(id)).ok().map(|text| text.split('\n'))
    }

    /// The tensor data block (what the tensor table's offsets refer to).
    pub fn tensor_data(&self) -> &'a [u8] {
        self.data
    }

    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.meta.spec
    }

    /// The CRC-32 stored in (and verified against) the file.
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// Bytes of the file proper (without any trailing bytes of the region).
    pub fn file_len(&self) -> usize {
        self.file_len
    }

    /// Quantization of the logits (the last layer's output).
    pub fn output_qparams(&self) -> QParams {
        self.meta.layers.last().map(|l| l.output()).unwrap_or(self.meta.input.output)
    }

    /// Kernel parameters of a convolution or dense layer.
    pub fn weighted_params(&self, info: &LayerInfo, w: &WeightedQuant) -> ConvI8Params<'a> {
        let (geometry, relu) = weighted(info);
        ConvI8Params {
            geometry,
            input_offset: -w.input.zero_point,
            weights: PackedWeights {
                layout: geometry.packed_layout(),
                data: self.tensor_i8(w.weights),
                sums: self.tensor_i32(w.weight_sums),
            },
            bias: self.tensor_i32(w.bias),
            output: OutputStage {
                output_offset: w.output.zero_point,
                act_min: if relu { w.output.relu_min() } else { -128 },
                act_max: 127,
                multiplier: self.tensor_i32(w.multiplier),
                shift: self.tensor_i32(w.shift),
            },
        }
    }

    /// Kernel parameters of an LRN layer.
    pub fn lrn_params(&self, size: u32, l: &super::LrnQuant) -> LrnI8Params<'a> {
        LrnI8Params {
            size,
            input_zero_point: l.input.zero_point,
            output_zero_point: l.output.zero_point,
            table_params: l.params,
            table: self.tensor_i32(l.table),
        }
    }
}

/// What the fast kernels rely on: no weight is -128 (their int16 pair sums
/// would overflow), padding is zero, and the stored sums are the rows' sums.
/// One pass over the weights, panel by panel.
fn packed_weights_are_canonical(w: &PackedWeights) -> bool {
    let l = w.layout;
    for group in 0..l.groups {
        for panel in 0..l.panels() {
            let mut sums = [0i32; PANEL_ROWS];
            for (i, chunk) in w.panel(group, panel).chunks_exact(PANEL_DEPTH).enumerate() {
                let (step, r) = (i / PANEL_ROWS, i % PANEL_ROWS);
                let real = (panel * PANEL_ROWS + r < l.rows).then_some(l.depth.saturating_sub(step * PANEL_DEPTH));
                for (k, v) in chunk.iter().enumerate() {
                    let inside = real.is_some_and(|n| k < n);
                    if *v == i8::MIN || (!inside && *v != 0) {
                        return false;
                    }
                    sums[r] += *v as i32;
                }
            }
            let rows = (l.rows - panel * PANEL_ROWS).min(PANEL_ROWS);
            let first = group * l.rows + panel * PANEL_ROWS;
            if sums[..rows] != w.sums[first..first + rows] {
                return false;
            }
        }
    }
    true
}

/// Geometry and ReLU flag of a layer the parser has checked to be weighted.
fn weighted(info: &LayerInfo) -> (ConvGeometry, bool) {
    ConvGeometry::of_weighted(info).expect("a layer with weights")
}
