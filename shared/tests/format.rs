//! The model file: round trip, one test per way a file can be wrong (checking
//! the exact error), and random or mutated files that must never panic.

mod common;

use proptest::prelude::*;
use shared::format::{crc32, write_file, AlignedBytes, DType, FormatError, LayerQuant, ModelMeta, FORMAT_VERSION};
use shared::layers::conv::ConvGeometry;
use shared::{Engine, Model};

fn good_file() -> AlignedBytes {
    common::quantized(&common::tiny_spec(), 1, 4).1
}

/// Rewrites a good file with its metadata changed by `edit`.
fn edited(edit: impl FnOnce(&mut ModelMeta)) -> AlignedBytes {
    let file = good_file();
    let model = Model::parse(&file).unwrap();
    let mut meta = model.meta().clone();
    edit(&mut meta);
    AlignedBytes::new(&write_file(&meta, model.tensor_data()).unwrap())
}

/// Recomputes the trailing checksum after a deliberate corruption, so the
/// deeper checks are reached.
fn reseal(bytes: &mut [u8]) {
    let end = bytes.len() - 4;
    let crc = crc32(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn round_trip() {
    let file = good_file();
    let model = Model::parse(&file).unwrap();
    assert_eq!(model.spec(), &common::tiny_spec());
    assert_eq!(model.file_len(), file.len());
    assert_eq!(model.checksum(), u32::from_le_bytes(file[file.len() - 4..].try_into().unwrap()));
    // Trailing bytes (a larger memory region) are ignored.
    let mut longer = file.to_vec();
    longer.extend_from_slice(&[0xAA; 100]);
    assert!(Model::parse(&AlignedBytes::new(&longer)).is_ok());
}

#[test]
fn rejects_bad_magic() {
    let mut f = good_file();
    f[1] ^= 0x20;
    assert_eq!(Model::parse(&f).unwrap_err(), FormatError::BadMagic);
}

#[test]
fn rejects_future_version() {
    let mut f = good_file();
    f[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert_eq!(
        Model::parse(&f).unwrap_err(),
        FormatError::UnsupportedVersion { found: FORMAT_VERSION + 1, supported: FORMAT_VERSION }
    );
}

#[test]
fn an_older_version_is_refused_with_a_pointer_to_quantize() {
    let mut f = good_file();
    f[8..10].copy_from_slice(&1u16.to_le_bytes());
    let err = Model::parse(&f).unwrap_err();
    assert_eq!(err, FormatError::UnsupportedVersion { found: 1, supported: FORMAT_VERSION });
    assert!(err.to_string().contains("re-run `host quantize`"), "{err}");
}

/// A good file with the first layer's packed weights or sums changed by
/// `edit`, checksum resealed so the weight checks are reached.
fn with_weights_edited(edit: impl FnOnce(&mut [i8], &mut [i32])) -> AlignedBytes {
    let file = good_file();
    let model = Model::parse(&file).unwrap();
    let w = match model.meta().layers[0] {
        LayerQuant::Conv(w) => w,
        other => panic!("layer 0 is {other:?}"),
    };
    let entry = |id: u16| model.meta().tensors[id as usize];
    let (weights, sums) = (entry(w.weights), entry(w.weight_sums));
    let mut data = model.tensor_data().to_vec();
    let mut packed: Vec<i8> = model.tensor_i8(w.weights).to_vec();
    let mut sum_values: Vec<i32> = model.tensor_i32(w.weight_sums).to_vec();
    edit(&mut packed, &mut sum_values);
    let at = weights.offset as usize;
    data[at..at + packed.len()].copy_from_slice(bytemuck::cast_slice(&packed));
    let at = sums.offset as usize;
    for (i, v) in sum_values.iter().enumerate() {
        data[at + 4 * i..at + 4 * i + 4].copy_from_slice(&v.to_le_bytes());
    }
    AlignedBytes::new(&write_file(model.meta(), &data).unwrap())
}

#[test]
fn rejects_weights_the_fast_kernels_cannot_take() {
    assert!(Model::parse(&with_weights_edited(|_, _| {})).is_ok());
    // -128: the board kernel's int16 pair sums could overflow.
    let f = with_weights_edited(|w, s| {
        s[0] += -128 - w[0] as i32;
        w[0] = -128;
    });
    assert_eq!(Model::parse(&f).unwrap_err(), FormatError::BadQuantization { layer: 0 });
    // A stored sum that is not the row's sum.
    let f = with_weights_edited(|_, s| s[1] += 1);
    assert_eq!(Model::parse(&f).unwrap_err(), FormatError::BadQuantization { layer: 0 });
    // Non-zero depth padding, even with a sum that agrees.
    let info = common::tiny_spec().walk().next().unwrap();
    let layout = ConvGeometry::of_weighted(&info).unwrap().0.packed_layout();
    assert!(layout.padded_depth() > layout.depth, "conv1 of the tiny net has depth padding");
    let f = with_weights_edited(|w, s| {
        w[layout.index(0, layout.depth)] = 1;
        s[0] += 1;
    });
    assert_eq!(Model::parse(&f).unwrap_err(), FormatError::BadQuantization { layer: 0 });
}

/// A good file with an LRN layer's gain table changed by `edit`, checksum
/// resealed, and that layer's index.
fn with_lrn_table_edited(edit: impl FnOnce(&mut [i32])) -> (AlignedBytes, u16) {
    let file = good_file();
    let model = Model::parse(&file).unwrap();
    let (layer, l) = model
        .meta()
        .layers
        .iter()
        .enumerate()
        .find_map(|(i, q)| match q {
            LayerQuant::Lrn(l) => Some((i as u16, *l)),
            _ => None,
        })
        .expect("the tiny net has an LRN layer");
    let mut table: Vec<i32> = model.tensor_i32(l.table).to_vec();
    edit(&mut table);
    let mut data = model.tensor_data().to_vec();
    let at = model.meta().tensors[l.table as usize].offset as usize;
    for (i, v) in table.iter().enumerate() {
        data[at + 4 * i..at + 4 * i + 4].copy_from_slice(&v.to_le_bytes());
    }
    (AlignedBytes::new(&write_file(model.meta(), &data).unwrap()), layer)
}

#[test]
fn rejects_lrn_tables_the_fast_kernels_cannot_take() {
    assert!(Model::parse(&with_lrn_table_edited(|_| {}).0).is_ok());
    // Entries outside 0..2^30: the NEON kernel takes differences in 32 bits.
    for bad in [-1, 1 << 30, i32::MAX, i32::MIN] {
        let (f, layer) = with_lrn_table_edited(|t| t[3] = bad);
        assert_eq!(Model::parse(&f).unwrap_err(), FormatError::BadQuantization { layer }, "entry {bad}");
    }
}

#[test]
fn rejects_truncated() {
    let f = good_file();
    for len in [0, 10, 31, 32, 100, f.len() / 2, f.len() - 1] {
        let cut = AlignedBytes::new(&f[..len]);
        assert!(matches!(Model::parse(&cut).unwrap_err(), FormatError::Truncated { .. }), "len {len}");
    }
}

#[test]
fn rejects_checksum_mismatch() {
    let mut f = good_file();
    let mid = f.len() - 100;
    f[mid] ^= 1;
    assert!(matches!(Model::parse(&f).unwrap_err(), FormatError::ChecksumMismatch { .. }));
}

#[test]
fn rejects_misaligned_buffer() {
    let f = good_file();
    let mut shifted = vec![0u8; f.len() + 1];
    shifted[1..].copy_from_slice(&f);
    let buf = AlignedBytes::new(&shifted);
    assert_eq!(Model::parse(&buf[1..]).unwrap_err(), FormatError::Misaligned);
}

#[test]
fn rejects_malformed_metadata() {
    let mut f = good_file();
    f[33] = 0xFF; // inside the postcard block
    f[34] = 0xFF;
    reseal(&mut f);
    assert_eq!(Model::parse(&f).unwrap_err(), FormatError::Malformed);
    let mut reserved = good_file();
    reserved[10] = 1;
    reseal(&mut reserved);
    assert_eq!(Model::parse(&reserved).unwrap_err(), FormatError::Malformed);
}

fn first_weighted(meta: &mut ModelMeta) -> &mut shared::format::WeightedQuant {
    match &mut meta.layers[0] {
        LayerQuant::Conv(w) => w,
        other => panic!("layer 0 is {other:?}"),
    }
}

#[test]
fn rejects_shape_disagreeing_with_spec() {
    let f = edited(|m| {
        let id = first_weighted(m).weights as usize;
        m.tensors[id].len -= 1;
    });
    assert!(matches!(Model::parse(&f).unwrap_err(), FormatError::ShapeMismatch { layer: 0, .. }));
}

#[test]
fn rejects_tensor_out_of_bounds() {
    let f = edited(|m| m.tensors[0].offset = 1 << 40);
    assert_eq!(Model::parse(&f).unwrap_err(), FormatError::TensorOutOfBounds { tensor: 0 });
    let f = edited(|m| first_weighted(m).bias = 999);
    assert_eq!(Model::parse(&f).unwrap_err(), FormatError::TensorOutOfBounds { tensor: 999 });
}

#[test]
fn rejects_misaligned_tensor() {
    let f = edited(|m| m.tensors[0].offset += 1);
    assert_eq!(Model::parse(&f).unwrap_err(), FormatError::Misaligned);
}

#[test]
fn rejects_wrong_tensor_type() {
    let f = edited(|m| {
        let id = first_weighted(m).bias as usize;
        m.tensors[id].dtype = DType::F32;
    });
    assert!(matches!(Model::parse(&f).unwrap_err(), FormatError::WrongTensorType { .. }));
}

#[test]
fn rejects_bad_quantization() {
    let f = edited(|m| first_weighted(m).output.zero_point = 300);
    assert_eq!(Model::parse(&f).unwrap_err(), FormatError::BadQuantization { layer: 0 });
    // A layer whose input quantization differs from its producer's output.
    let f = edited(|m| first_weighted(m).input.scale *= 2.0);
    assert_eq!(Model::parse(&f).unwrap_err(), FormatError::BadQuantization { layer: 0 });
}

#[test]
fn rejects_layer_list_disagreeing_with_spec() {
    let f = edited(|m| {
        m.layers.pop();
    });
    assert!(matches!(Model::parse(&f).unwrap_err(), FormatError::LayerMismatch { .. }));
    let f = edited(|m| m.layers.swap(0, 1));
    assert!(matches!(
        Model::parse(&f).unwrap_err(),
        FormatError::BadQuantization { .. } | FormatError::LayerMismatch { .. }
    ));
}

#[test]
fn rejects_invalid_spec() {
    let f = edited(|m| {
        if let shared::spec::Layer::Conv(c) = &mut m.spec.layers[0] {
            c.groups = 3;
        }
    });
    assert!(matches!(Model::parse(&f).unwrap_err(), FormatError::BadSpec(_)));
}

/// Parse, and if it parses, run: neither may panic.
fn parse_and_run(bytes: &[u8]) {
    let buf = AlignedBytes::new(bytes);
    if let Ok(model) = Model::parse(&buf) {
        let engine = Engine::new(&model).unwrap();
        let mut arena = vec![0u8; engine.buffer_len()];
        let image = vec![128u8; model.spec().input.len()];
        engine.run(&image, &mut arena).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        parse_and_run(&bytes);
    }

    #[test]
    fn mutated_files_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), seal in any::<bool>()) {
        thread_local!(static GOOD: AlignedBytes = good_file());
        let mut f = GOOD.with(|g| g.to_vec());
        // Mostly hit the preamble and metadata, where the parser makes decisions.
        let meta_end = 32 + u32::from_le_bytes(f[12..16].try_into().unwrap()) as usize;
        for (at, v) in edits {
            let i = at.index(meta_end.min(f.len()));
            f[i] = v;
        }
        if seal {
            reseal(&mut f);
        }
        parse_and_run(&f);
    }
}

/// The good file with `text` stored as its class names, in a tensor of `dtype`.
fn with_labels(text: &[u8], dtype: DType) -> Result<Vec<String>, FormatError> {
    let file = good_file();
    let model = Model::parse(&file).unwrap();
    let (mut meta, mut data) = (model.meta().clone(), model.tensor_data().to_vec());
    data.resize(data.len().next_multiple_of(16), 0);
    let entry = shared::format::TensorEntry { dtype, offset: data.len() as u64, len: text.len() as u32 };
    data.extend_from_slice(text);
    meta.tensors.push(entry).unwrap();
    meta.labels = Some(meta.tensors.len() as u16 - 1);
    let bytes = AlignedBytes::new(&write_file(&meta, &data).unwrap());
    let model = Model::parse(&bytes)?;
    Ok(model.labels().expect("the file has names").map(String::from).collect())
}

#[test]
fn class_names_travel_in_the_file_one_line_per_class() {
    let names: Vec<String> = (0..10).map(|i| format!("class {i} é")).collect();
    assert_eq!(with_labels(names.join("\n").as_bytes(), DType::Utf8), Ok(names.clone()));
    assert_eq!(with_labels(names[..9].join("\n").as_bytes(), DType::Utf8), Err(FormatError::BadLabels));
    let mut bad_utf8 = names.join("\n").into_bytes();
    bad_utf8[7] = 0xFF;
    assert_eq!(with_labels(&bad_utf8, DType::Utf8), Err(FormatError::BadLabels));
    assert_eq!(with_labels(names.join("\n").as_bytes(), DType::I8), Err(FormatError::BadLabels));
    // What `host quantize` writes.
    let spec = common::tiny_spec();
    let (float, _) = common::quantized(&spec, 1, 1);
    let images = shared::synthetic::images(&spec, 2, 3);
    let cal = shared::quantize::Calibration::collect(
        &float,
        images.iter().map(|v| v.as_slice()),
        shared::quantize::RangeMethod::MinMax,
    );
    let bytes = AlignedBytes::new(&shared::quantize::quantize_named(&float, &cal, Some(&names)).unwrap());
    let stored: Vec<&str> = Model::parse(&bytes).unwrap().labels().unwrap().collect();
    assert_eq!(stored, names);
    assert!(Model::parse(&good_file()).unwrap().labels().is_none());
}
