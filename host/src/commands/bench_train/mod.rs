//! `host bench-train`: training-step throughput of this build against dfdx's
//! released CPU kernels, measured in the same run, with the machine's GEMM
//! throughput as the yardstick for "percent of peak" (`ceiling`), the peak
//! RSS and the page faults per step (memory the kernel had to map and zero
//! again).

mod ceiling;

use crate::args::arch::ArchArgs;
use crate::args::values::count;
use crate::error::Result;
use crate::process_stats::{minor_faults, peak_rss_text};
use crate::steady::{self, Timing};
use crate::train::device::use_released_cpu_kernels;
use crate::train::layer_clock::{self, LayerTime};
use crate::train::model::AlexNet;
use crate::train::optim::Sgd;
use crate::train::recipe::{init, Hyper, RecipeKind};
use crate::train::step::{unsplit, StepDevice, StepInput};
use clap::Args;
use dfdx::prelude::*;
use shared::float::SplitMix64;
use shared::spec::ModelSpec;
use std::time::Instant;

/// One measured configuration.
#[derive(Clone, Debug)]
pub struct StepRate {
    pub images_per_sec: f64,
    pub gflops: f64,
    /// Minor page faults per timed step (Linux).
    pub faults_per_step: Option<f64>,
    /// The timed steps; the rates above are of their median.
    pub timing: Timing,
}

/// Forward + backward is about three forward passes of multiply-adds.
fn flops_per_image(spec: &ModelSpec) -> f64 {
    3.0 * 2.0 * spec.macs() as f64
}

/// Per-step figures of [`time_steps`].
struct StepTimes {
    /// Wall seconds of each timed step, after a warm-up to a steady time.
    timing: Timing,
    /// Mean seconds of the SGD update in a timed step.
    sgd_secs: f64,
    /// Minor page faults.
    faults: Option<f64>,
}

/// Seconds and page faults per training step (forward, loss, backward, SGD)
/// on random data: the trainer's step (`fast`), or one unsplit pass (dfdx as
/// released).
fn time_steps(spec: &ModelSpec, batch: usize, steps: usize, fast: bool) -> Result<StepTimes> {
    let dev = Cpu::default();
    let mut net = AlexNet::from_float(&init(spec, RecipeKind::Fast, 1), &dev);
    let mut sgd = Sgd::new(&net, 0.9, 5e-4);
    let (c, h, w) = (spec.input.c as usize, spec.input.h as usize, spec.input.w as usize);
    let mut rng = SplitMix64::new(7);
    let data: Vec<f32> = (0..batch * c * h * w).map(|_| rng.next_normal() as f32).collect();
    let labels: Vec<u32> = (0..batch).map(|i| (i % spec.classes() as usize) as u32).collect();
    let hyper = Hyper::defaults(RecipeKind::Fast);
    let (mut k, sgd_secs) = (0u64, std::cell::Cell::new(0.0));
    // Returns the step's seconds; adds the SGD update's to `sgd_secs`.
    let mut step = || -> Result<f64> {
        let start = Instant::now();
        let input = StepInput { spec, data: &data, labels: &labels, hyper: &hyper, step: k };
        let out = if fast { Cpu::step_gradients(&net, &dev, &input) } else { unsplit(&net, &dev, &input) };
        let sgd_start = Instant::now();
        sgd.step(&mut net, &out.grads, 0.01);
        sgd_secs.set(sgd_secs.get() + sgd_start.elapsed().as_secs_f64());
        k += 1;
        Ok(start.elapsed().as_secs_f64())
    };
    // Released kernels are slow enough that one step is their warm-up.
    let (warmup_steps, settled) = if fast { steady::warm_up(&mut step)? } else { (step().map(|_| 1)?, false) };
    layer_clock::take();
    sgd_secs.set(0.0);
    let faults_before = minor_faults();
    let steps = steady::time(steps, &mut step)?;
    let faults = faults_before.zip(minor_faults()).map(|(a, b)| (b - a) as f64 / steps.len() as f64);
    let n = steps.len() as f64;
    Ok(StepTimes {
        timing: Timing { warmup_steps, settled: settled || !fast, steps },
        sgd_secs: sgd_secs.get() / n,
        faults,
    })
}

pub fn measure(spec: &ModelSpec, batch: usize, steps: usize, released: bool) -> Result<StepRate> {
    use_released_cpu_kernels(released);
    let times = time_steps(spec, batch, steps, !released);
    use_released_cpu_kernels(false);
    let times = times?;
    let images_per_sec = batch as f64 / times.timing.median();
    Ok(StepRate {
        images_per_sec,
        gflops: images_per_sec * flops_per_image(spec) / 1e9,
        faults_per_step: times.faults,
        timing: times.timing,
    })
}

/// Where a step of this build's kernels spends its time: `steps` more steps
/// with the layer clock on, as a table.
fn print_layer_table(spec: &ModelSpec, batch: usize, steps: usize) -> Result<()> {
    layer_clock::enable(true);
    let times = time_steps(spec, batch, steps, true);
    let layers = layer_clock::take();
    layer_clock::enable(false);
    let times = times?;
    let per_step = |s: f64| s * 1e3 / steps as f64;
    let total: f64 = layers.iter().map(|t| t.forward + t.backward).sum();
    println!("per layer, ms per step (thread time: the batch's shards add up)");
    println!("{:<8} {:>9} {:>9} {:>7}", "layer", "forward", "backward", "share");
    for (i, info) in spec.walk().enumerate() {
        let t = layers.get(i).copied().unwrap_or_default();
        if t == LayerTime::default() {
            println!("{:<8} {:>9} {:>9} {:>7}", info.name, "fused", "above", "-");
            continue;
        }
        let share = 100.0 * (t.forward + t.backward) / total.max(f64::MIN_POSITIVE);
        println!("{:<8} {:>9.2} {:>9.2} {:>6.1}%", info.name, per_step(t.forward), per_step(t.backward), share);
    }
    println!(
        "layers {:.1} ms; step {:.1} ms wall (median), of which the SGD update {:.1} ms",
        per_step(total),
        times.timing.median() * 1e3,
        times.sgd_secs * 1e3
    );
    Ok(())
}

/// More timed steps than a measurement needs (a benchmark, not a run).
const MAX_STEPS: u64 = 100_000;

#[derive(Clone, Debug, Args)]
pub struct BenchTrainArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    #[arg(long, default_value_t = 64, value_parser = count(1..=crate::commands::train::MAX_BATCH))]
    pub batch: usize,
    /// Timed steps with this build's kernels, after a warm-up until three
    /// steps agree within 5% (1 to 100,000; the median is reported).
    #[arg(long, default_value_t = 10, value_parser = count(1..=MAX_STEPS))]
    pub steps: usize,
    /// Timed steps with the released kernels (0 = skip; they are slow).
    #[arg(long, default_value_t = 2, value_parser = count(0..=MAX_STEPS))]
    pub released_steps: usize,
    /// Then time each layer's forward and backward over this many more
    /// steps (0 = skip).
    #[arg(long, default_value_t = 0, value_parser = count(0..=MAX_STEPS))]
    pub layer_steps: usize,
}

pub fn run(args: &BenchTrainArgs) -> Result<()> {
    let spec = &args.arch.spec()?;
    let (batch, steps, released_steps) = (args.batch, args.steps, args.released_steps);
    println!(
        "network {} -> {} classes, {:.1} MMAC/image, batch {batch}, {} threads",
        spec.input,
        spec.classes(),
        spec.macs() as f64 / 1e6,
        rayon::current_num_threads()
    );
    let ceiling = ceiling::training_gemm();
    #[cfg(not(feature = "openblas"))]
    let library = "gemm 0.15";
    #[cfg(feature = "openblas")]
    let library = format!("OpenBLAS, {} kernels; gemm 0.15 {:.1}", crate::openblas::core_name(), ceiling::gemm_crate());
    let fma = ceiling::fma_peak().map_or("unknown".into(), |(f, isa)| format!("{f:.1} GFLOP/s ({isa})"));
    println!("GEMM ceiling {ceiling:.1} GFLOP/s ({library}); FMA peak {fma}");
    #[cfg(feature = "openblas")]
    if let Some(note) = crate::openblas::narrower_than_cpu() {
        println!("{note}");
    }
    let fast = measure(spec, batch, steps, false)?;
    println!(
        "this build:         {:8.1} img/s {:7.1} GFLOP/s ({:4.1}% of the GEMM ceiling), peak RSS {}, {} page faults/step",
        fast.images_per_sec,
        fast.gflops,
        100.0 * fast.gflops / ceiling,
        peak_rss_text(),
        fast.faults_per_step.map_or("unknown".into(), |f| format!("{f:.0}"))
    );
    println!("  step time: {}", fast.timing.describe(1e3, "ms"));
    if released_steps > 0 {
        let released = measure(spec, batch, released_steps, true)?;
        println!(
            "released kernels:   {:8.1} img/s {:7.1} GFLOP/s  -> this build is {:.1}x faster",
            released.images_per_sec,
            released.gflops,
            fast.images_per_sec / released.images_per_sec
        );
    }
    if args.layer_steps > 0 {
        print_layer_table(spec, batch, args.layer_steps)?;
    }
    Ok(())
}
