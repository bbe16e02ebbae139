//! The host's side of `host bench-infer`: every engine on the same images in
//! one process, timed at batch 1 on one core, at batch 1 on all cores, and
//! over a batch on all cores.

use crate::error::{HostError, Result};
use crate::inference::float::FloatNet;
use crate::inference::layer_split::PoolParts;
use crate::steady;
use serde::Serialize;
use shared::float::FloatModel;
use shared::{Engine, Model};
use std::time::Instant;

/// The int8 engine's time per layer (ms/image, in spec order) with each
/// layer split over each thread count of [`thread_counts`]; the first
/// layer's includes the input's quantization.
pub struct LayerTimes {
    pub threads: Vec<usize>,
    /// `ms[t][layer]`: on `threads[t]` threads.
    pub ms: Vec<Vec<f64>>,
}

/// 1, 2, ... up to this machine's cores (a Pi's 1 to 4); above 8, powers of
/// two and the core count.
pub fn thread_counts() -> Vec<usize> {
    let n = cores();
    if n <= 8 {
        (1..=n).collect()
    } else {
        let mut t: Vec<usize> = (0..).map(|k| 1 << k).take_while(|&t| t < n).collect();
        t.push(n);
        t
    }
}

/// One engine's figures; `None` where the engine cannot run that way.
#[derive(Clone, Debug, Serialize)]
pub struct EngineTimes {
    pub name: &'static str,
    /// ms/image, images one at a time on one core.
    pub single_core_ms: f64,
    /// ms/image, images one at a time with every core on each.
    pub all_cores_ms: Option<f64>,
    /// images/s over batches of the given size on every core.
    pub batch_images_per_s: f64,
}

/// Runs `f` on a rayon pool of `threads` threads (dfdx's CPU kernels use
/// the current pool).
fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> Result<T> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| HostError::Usage(format!("thread pool: {e}")))?;
    Ok(pool.install(f))
}

/// Batches timed per engine after the warm-up; the median counts.
pub const BATCH_RUNS: usize = 10;

/// Images/s of the median of [`BATCH_RUNS`] runs of `run_batch` (a batch of
/// `batch` images), after a warm-up to a steady time (`crate::steady`).
fn batch_rate(batch: usize, run_batch: impl FnMut() -> Result<()>) -> Result<f64> {
    Ok(batch as f64 / steady::measure(BATCH_RUNS, run_batch)?.median())
}

/// ms per image of the median of `images` runs of `run` (one image each,
/// the images in turn), after a warm-up to a steady time.
fn per_image_ms(images: usize, mut run: impl FnMut(usize) -> Result<()>) -> Result<f64> {
    let mut k = 0;
    let timing = steady::measure(images, || {
        k += 1;
        run(k - 1)
    })?;
    Ok(timing.median() * 1e3)
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The int8 engine (shared's kernels, as on the board), with its time per
/// layer on one core.
pub fn int8(model: &Model<'_>, images: &[Vec<u8>], batch: usize) -> Result<(EngineTimes, LayerTimes)> {
    let engine = Engine::new(model).map_err(|e| HostError::Usage(e.to_string()))?;
    let mut buf = vec![0u8; engine.buffer_len()];
    let threads = thread_counts();
    let mut per_image = Vec::new();
    let mut ms = Vec::new();
    for &t in &threads {
        let (image_ms, layers) = layer_times_on(&engine, &mut buf, images, t)?;
        per_image.push(image_ms);
        ms.push(layers);
    }
    let single_core_ms = per_image[0];
    let all_cores_ms = per_image.last().copied().filter(|_| threads.len() > 1);
    // A batch on all cores, as `compare`, `eval` and `predict` run it: each
    // core takes a share of the images, dense layers four images at a time.
    let batch_images: Vec<Vec<u8>> = images.iter().cycle().take(batch).cloned().collect();
    let batch_images_per_s =
        batch_rate(batch, || crate::inference::int8::int8_map(model, &batch_images, None, |_, _| ()).map(|_| ()))?;
    Ok((
        EngineTimes { name: "host int8", single_core_ms, all_cores_ms, batch_images_per_s },
        LayerTimes { threads, ms },
    ))
}

/// One image at a time with each layer split over `threads` threads (one:
/// on the calling thread): the median ms per image after a steady warm-up,
/// and each layer's mean ms over the timed images.
fn layer_times_on(engine: &Engine<'_>, buf: &mut [u8], images: &[Vec<u8>], threads: usize) -> Result<(f64, Vec<f64>)> {
    let fail = |e: shared::InferError| HostError::Usage(e.to_string());
    let workers: Box<dyn shared::parallel::Workers> =
        if threads == 1 { Box::new(shared::parallel::OneCore) } else { Box::new(PoolParts(threads)) };
    let mut per_layer = vec![0f64; engine.model().spec().layers.len()];
    let (mut k, observe) = (0usize, std::cell::Cell::new(false));
    let mut one = || -> Result<f64> {
        engine.input_region(buf).map_err(fail)?.copy_from_slice(&images[k % images.len()]);
        k += 1;
        let start = Instant::now();
        let mut mark = start;
        engine
            .run_in_place_on(buf, workers.as_ref(), |i| {
                let now = Instant::now();
                if observe.get() {
                    per_layer[i] += (now - mark).as_secs_f64();
                }
                mark = now;
            })
            .map_err(fail)?;
        Ok(start.elapsed().as_secs_f64())
    };
    steady::warm_up(&mut one)?;
    observe.set(true);
    let timed = steady::time(images.len(), &mut one)?;
    let n = timed.len() as f64;
    Ok((steady::median(&timed) * 1e3, per_layer.iter().map(|s| s * 1e3 / n).collect()))
}

/// The float network in dfdx (the engine `host eval` and training use).
pub fn float(model: &FloatModel, images: &[Vec<u8>], batch: usize) -> Result<EngineTimes> {
    let net = FloatNet::new(model);
    let forward = |imgs: &[&Vec<u8>]| net.logits(imgs.iter().map(|v| v.as_slice()));
    let one_at_a_time = || {
        per_image_ms(images.len(), |i| {
            forward(&[&images[i % images.len()]]);
            Ok(())
        })
    };
    let single_core_ms = on_threads(1, one_at_a_time)??;
    let all_cores_ms = on_threads(cores(), one_at_a_time)??;
    let batch_images: Vec<&Vec<u8>> = images.iter().cycle().take(batch).collect();
    let batch_images_per_s = on_threads(cores(), || {
        batch_rate(batch, || {
            forward(&batch_images);
            Ok(())
        })
    })??;
    Ok(EngineTimes { name: "host float", single_core_ms, all_cores_ms: Some(all_cores_ms), batch_images_per_s })
}

/// tract f32 on the exported ONNX graph (tract runs on one core).
#[cfg(feature = "tract")]
pub fn tract(model: &FloatModel, images: &[Vec<u8>], batch: usize, dir: &std::path::Path) -> Result<EngineTimes> {
    use crate::inference::tract::TractRunner;
    use crate::train::preprocess::normalize_batch;
    let spec = &model.spec;
    let onnx = dir.join(format!("{}.onnx", spec.input));
    crate::onnx::export(model, &onnx)?;
    let one = TractRunner::load(&onnx, spec, 1)?;
    let normalized = |imgs: &[&Vec<u8>]| normalize_batch(spec, imgs.iter().map(|v| v.as_slice()));
    let single_core_ms =
        per_image_ms(images.len(), |i| one.logits(&normalized(&[&images[i % images.len()]])).map(|_| ()))?;
    let many = TractRunner::load(&onnx, spec, batch)?;
    let batch_images: Vec<&Vec<u8>> = images.iter().cycle().take(batch).collect();
    let data = normalized(&batch_images);
    let batch_images_per_s = batch_rate(batch, || many.logits(&data).map(|_| ()))?;
    Ok(EngineTimes { name: "tract f32", single_core_ms, all_cores_ms: None, batch_images_per_s })
}

/// The int8 engine's per-layer table (one core, one image at a time).
pub fn print_layers(spec: &shared::ModelSpec, times: &LayerTimes) {
    let one = &times.ms[0];
    let total: f64 = one.iter().sum();
    println!("  host int8 per layer, ms/img with the layer split over 1.. threads (the first layer includes the input's quantization):");
    print!("  {:<8} {:>10}", "layer", "MMAC");
    for t in &times.threads {
        print!(" {:>10}", format!("{t} thread{}", if *t == 1 { "" } else { "s" }));
    }
    println!(" {:>12} {:>7}", "GMAC/s, 1", "share, 1");
    for (i, l) in spec.walk().enumerate() {
        let rate = if l.macs() > 0 { format!("{:.1}", l.macs() as f64 / one[i] / 1e6) } else { "-".into() };
        print!("  {:<8} {:>10.1}", l.name.to_string(), l.macs() as f64 / 1e6);
        for ms in &times.ms {
            print!(" {:>10.3}", ms[i]);
        }
        println!(" {:>12} {:>7.1}%", rate, 100.0 * one[i] / total);
    }
}

pub fn print(rows: &[EngineTimes], batch: usize, images: usize) {
    let cores = cores();
    println!(
        "  {:<11} {:>16} {:>18} {:>20}",
        "engine",
        "ms/img, 1 core",
        format!("ms/img, {cores} cores"),
        format!("img/s, batch {batch}*")
    );
    for r in rows {
        let all = r.all_cores_ms.map_or("-".to_string(), |v| format!("{v:.2}"));
        println!("  {:<11} {:>16.2} {:>18} {:>20.1}", r.name, r.single_core_ms, all, r.batch_images_per_s);
    }
    println!(
        "  * medians: of {images} images (batch 1 columns) and {BATCH_RUNS} batches, each after a warm-up until {} runs agree within {:.0}%",
        steady::WINDOW,
        100.0 * steady::TOLERANCE
    );
    let find = |name: &str| rows.iter().find(|r| r.name == name);
    if let Some(int8) = find("host int8") {
        let best = |r: &EngineTimes| r.all_cores_ms.unwrap_or(r.single_core_ms).min(r.single_core_ms);
        for other in ["tract f32", "host float"].into_iter().filter_map(find) {
            println!(
                "  int8 / {}: {:.2}x the time per image at batch 1 (best of 1 and {cores} cores), {:.2}x the images/s over a batch",
                other.name,
                best(int8) / best(other),
                int8.batch_images_per_s / other.batch_images_per_s
            );
        }
    }
}
