//! `host bench-infer --json`: the figures the tables show, unrounded, as one
//! JSON document (fields: docs/cli.md).

use super::board::{wire_bytes, BoardCounts};
use super::cycle_model::{image_seconds, BOARDS};
use super::host_engines::{EngineTimes, LayerTimes, BATCH_RUNS};
use super::mix::{agreement, BoardMix};
use serde::Serialize;
use shared::spec::{ModelSpec, Shape};
use std::path::PathBuf;

#[derive(Clone, Debug, Serialize)]
pub struct BenchDocument {
    /// One entry per network measured, in the order measured.
    pub networks: Vec<NetworkBench>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NetworkBench {
    /// What was measured, as the table's heading names it.
    pub network: String,
    /// The int8 model file the host int8 engine and the board ran.
    pub model: PathBuf,
    /// The float network as ONNX (`--onnx`), else null.
    pub onnx: Option<PathBuf>,
    pub input: Shape,
    pub macs: u64,
    pub host: HostBench,
    /// Null with `--board-images 0`.
    pub board: Option<BoardBench>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HostBench {
    pub cores: usize,
    /// The int8 micro-kernels this CPU ran (`shared::kernels::tile::kernel_name`).
    pub int8_kernels: &'static str,
    /// The thread counts of `int8_layers[].ms_per_image_on_threads`.
    pub threads: Vec<usize>,
    /// Images per batch of `batch_images_per_s`.
    pub batch: usize,
    /// Batches timed per engine after a warm-up to a steady time; the median counts.
    pub batch_runs: usize,
    pub engines: Vec<EngineTimes>,
    /// The int8 engine per layer, one core, one image at a time.
    pub int8_layers: Vec<HostLayer>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HostLayer {
    pub name: String,
    pub macs: u64,
    /// On one thread.
    pub ms_per_image: f64,
    /// With the layer split over each of `HostBench::threads`, in order.
    pub ms_per_image_on_threads: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BoardBench {
    /// The virtual board that counted (QEMU's machine).
    pub board: &'static str,
    pub cores: u8,
    /// Images whose counts are averaged.
    pub images: usize,
    /// Instructions per image: the input's preparation, then each layer.
    pub prepare: f64,
    pub layers: Vec<BoardLayer>,
    /// The preparation plus every layer's busiest core: four cores at once.
    pub critical_path: f64,
    pub all_cores: f64,
    /// How far the instruction-mix plugin's counts are from the PMU's over
    /// all layers (a fraction); null without the plugin.
    pub mix_gap: Option<f64>,
    /// The cycle model's time per image on each Pi; null without the plugin.
    pub cycle_model: Option<Vec<ModelledBoard>>,
    /// Bytes on the serial line per image, frames and replies included.
    pub wire_bytes_per_image: usize,
    /// The same counted over card images run several at a time
    /// (`--board-batch`); null at `--board-batch 1`.
    pub batch: Option<BatchBench>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BatchBench {
    /// Images per batch.
    pub images: usize,
    /// Instructions per image, as `critical_path` and `all_cores` above.
    pub critical_path: f64,
    pub all_cores: f64,
    pub mix_gap: Option<f64>,
    /// The cycle model's time per image at this batch.
    pub cycle_model: Option<Vec<ModelledBoard>>,
}

fn modelled(spec: &ModelSpec, mix: Option<&BoardMix>, batch: usize) -> Option<Vec<ModelledBoard>> {
    mix.map(|m| {
        BOARDS
            .iter()
            .map(|b| ModelledBoard { board: b.name, ghz: b.ghz, ms_per_image: image_seconds(spec, m, b, batch) * 1e3 })
            .collect()
    })
}

/// The board's figures over a batch of `batch` card images.
pub fn batch_bench(spec: &ModelSpec, batch: usize, counts: &BoardCounts, mix: Option<&BoardMix>) -> BatchBench {
    BatchBench {
        images: batch,
        critical_path: counts.critical_path(),
        all_cores: counts.all_cores(),
        mix_gap: mix.map(|m| agreement(m, &counts.total).all_layers),
        cycle_model: modelled(spec, mix, batch),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BoardLayer {
    pub name: String,
    pub macs: u64,
    /// Instructions on the busiest core (serial work plus its part of a split).
    pub busiest_core: f64,
    pub all_cores: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelledBoard {
    pub board: &'static str,
    pub ghz: f64,
    /// The cycle model's time per image: preparation plus every layer.
    pub ms_per_image: f64,
}

pub fn host_bench(
    spec: &ModelSpec,
    cores: usize,
    batch: usize,
    engines: Vec<EngineTimes>,
    layers: &LayerTimes,
) -> HostBench {
    let int8_layers = spec
        .walk()
        .enumerate()
        .map(|(i, l)| HostLayer {
            name: l.name.to_string(),
            macs: l.macs(),
            ms_per_image: layers.ms[0][i],
            ms_per_image_on_threads: layers.ms.iter().map(|ms| ms[i]).collect(),
        })
        .collect();
    HostBench {
        cores,
        int8_kernels: shared::kernels::tile::kernel_name(),
        threads: layers.threads.clone(),
        batch,
        batch_runs: BATCH_RUNS,
        engines,
        int8_layers,
    }
}

pub fn board_bench(spec: &ModelSpec, counts: &BoardCounts, mix: Option<&BoardMix>) -> BoardBench {
    let layers = spec
        .walk()
        .zip(counts.critical.iter().zip(&counts.total))
        .map(|(l, (busiest, all))| BoardLayer {
            name: l.name.to_string(),
            macs: l.macs(),
            busiest_core: *busiest,
            all_cores: *all,
        })
        .collect();
    BoardBench {
        board: "raspi3b",
        cores: counts.cores,
        images: counts.images,
        prepare: counts.prepare,
        layers,
        critical_path: counts.critical_path(),
        all_cores: counts.all_cores(),
        mix_gap: mix.map(|m| agreement(m, &counts.total).all_layers),
        cycle_model: modelled(spec, mix, 1),
        wire_bytes_per_image: wire_bytes(spec.input),
        batch: None,
    }
}
