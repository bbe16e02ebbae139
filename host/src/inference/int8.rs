//! The host's int8 inference over many images: shared's engine (the
//! board's code, so the answers are the board's bit for bit) on every core,
//! each core taking its share of the images in groups of [`DENSE_BATCH`] so
//! the dense layers read their weights once per group.

use crate::error::{read_file, HostError, Result};
use crate::progress::Progress;
use shared::format::AlignedBytes;
use shared::infer::Top5;
use shared::kernels::conv_i8::DENSE_BATCH;
use shared::{Engine, Model};
use std::path::Path;
use std::sync::Mutex;

/// Loads and checks a model file, returning its bytes (aligned, so the
/// engine reads the weights in place) and checksum.
pub fn load_model(path: &Path) -> Result<(AlignedBytes, u32)> {
    let bytes = AlignedBytes::new(&read_file(path)?);
    let checksum =
        Model::parse(&bytes).map_err(|source| HostError::Model { path: path.to_path_buf(), source })?.checksum();
    Ok((bytes, checksum))
}

fn usage(e: impl ToString) -> HostError {
    HostError::Usage(e.to_string())
}

/// Runs the int8 engine on every network-size image (on all cores, with a
/// progress bar named `label` unless it is `None`) and returns
/// `read(engine, buffer)` for each, in image order.
pub fn int8_map<T: Send>(
    model: &Model<'_>,
    images: &[Vec<u8>],
    label: Option<&str>,
    read: impl Fn(&Engine<'_>, &[u8]) -> T + Sync,
) -> Result<Vec<T>> {
    let engine = Engine::new(model).map_err(usage)?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(images.len().max(1));
    let share = images.len().div_ceil(threads).max(1);
    let progress = label.map(|l| Mutex::new(Progress::new(l, images.len() as u64)));
    let results: Vec<Result<Vec<T>>> = std::thread::scope(|s| {
        let handles: Vec<_> = images
            .chunks(share)
            .map(|part| {
                let (engine, progress, read) = (&engine, &progress, &read);
                s.spawn(move || run_part(engine, part, progress.as_ref(), read))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("int8 worker")).collect()
    });
    if let Some(p) = &progress {
        p.lock().expect("progress lock").finish();
    }
    let mut all = Vec::with_capacity(images.len());
    for r in results {
        all.extend(r?);
    }
    Ok(all)
}

/// One core's share, a group of [`DENSE_BATCH`] images at a time.
fn run_part<T>(
    engine: &Engine<'_>,
    part: &[Vec<u8>],
    progress: Option<&Mutex<Progress>>,
    read: &impl Fn(&Engine<'_>, &[u8]) -> T,
) -> Result<Vec<T>> {
    let mut bufs = vec![vec![0u8; engine.buffer_len()]; DENSE_BATCH.min(part.len())];
    let mut out = Vec::with_capacity(part.len());
    for group in part.chunks(DENSE_BATCH) {
        let bufs = &mut bufs[..group.len()];
        for (buf, image) in bufs.iter_mut().zip(group) {
            let region = engine.input_region(buf).map_err(usage)?;
            if region.len() != image.len() {
                return Err(usage(shared::InferError::ImageSize { expected: region.len(), found: image.len() }));
            }
            region.copy_from_slice(image);
        }
        let mut views: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
        engine.run_batch_in_place(&mut views).map_err(usage)?;
        out.extend(bufs.iter().map(|b| read(engine, b)));
        if let Some(p) = progress {
            p.lock().expect("progress lock").inc(group.len() as u64, "");
        }
    }
    Ok(out)
}

/// The int8 engine's top-5 (classes and logits) for each image.
pub fn int8_predictions(model: &Model<'_>, images: &[Vec<u8>], label: &str) -> Result<Vec<Top5>> {
    int8_map(model, images, Some(label), |engine, buf| engine.top5(buf))
}

/// Top-5 classes from the int8 engine for each image.
pub fn int8_top5(model: &Model<'_>, images: &[Vec<u8>], label: &str) -> Result<Vec<Vec<usize>>> {
    Ok(int8_predictions(model, images, label)?
        .iter()
        .map(|top| top.iter().map(|p| p.class as usize).collect())
        .collect())
}

/// The int8 engine's logits for each image, dequantized to floats.
pub fn dequantized_logits(model: &Model<'_>, images: &[Vec<u8>]) -> Result<Vec<Vec<f32>>> {
    let out = model.meta().layers.last().map(|l| l.output()).ok_or_else(|| usage("the model has no layers"))?;
    int8_map(model, images, None, |engine, buf| {
        engine.logits(buf).iter().map(|&q| (q as i32 - out.zero_point) as f32 * out.scale).collect()
    })
}
