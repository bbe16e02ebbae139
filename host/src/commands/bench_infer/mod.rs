//! `host bench-infer`: inference speed of every engine in one run, on the
//! same images: the host's int8, float (dfdx) and tract f32 engines, then the
//! virtual board's instruction counts per layer with projected Pi latencies.
//! Seeded random weights unless a model or checkpoint is given, so every
//! machine measures the same networks. Tables, or with `--json` one JSON
//! document.

mod board;
mod cycle_model;
mod document;
mod host_engines;
mod mix;

use crate::args::arch::ArchName;
use crate::args::values::count;
use crate::error::{HostError, Result};
use crate::inference::int8::load_model;
use clap::Args;
use shared::float::FloatModel;
use shared::spec::{AlexNetConfig, ModelSpec, Normalize, Shape};
use shared::synthetic::{images as synthetic_images, quantize_on_synthetic};
use shared::Model;
use std::path::{Path, PathBuf};

/// Synthetic images are made up front: a thousand paper-size ones are
/// 150 MB, enough for any timing.
const MAX_IMAGES: u64 = 1000;

#[derive(Clone, Debug, Args)]
pub struct BenchInferArgs {
    /// Networks to measure: `paper` (3x227x227, 1000 classes) and `small`
    /// (the main command's: 1x64x64, width 0.5, 10 classes). Default: both.
    #[arg(long, value_enum)]
    pub arch: Vec<ArchName>,
    /// Measure this int8 model instead of a random one (host int8 and board).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Measure this checkpoint's float network (host float and tract); it is
    /// quantized on synthetic images unless --model is given too.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Images timed one at a time per engine, after a warm-up until three
    /// agree within 5%; the median counts (1 to 1,000).
    #[arg(long, default_value_t = 10, value_parser = count(1..=MAX_IMAGES))]
    pub images: usize,
    /// Images per batch for the throughput figure (1 to 1,000).
    #[arg(long, default_value_t = 32, value_parser = count(1..=MAX_IMAGES))]
    pub batch: usize,
    /// Images run on the virtual board (0: skip the board; at most 1,000).
    #[arg(long, default_value_t = 2, value_parser = count(0..=MAX_IMAGES))]
    pub board_images: usize,
    /// Then one batch of this many card images on the virtual board, run
    /// together as `host run --from-card --batch` runs them, for the
    /// per-image figures over a batch (1: skip; at most 8, and what the
    /// board's memory holds: 4 of the paper network).
    #[arg(long, default_value_t = 4, value_parser = count(1..=shared::link::MAX_BATCH as u64))]
    pub board_batch: usize,
    /// Seed of the random weights and images.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where model files and the virtual board's images go.
    #[arg(long, default_value = "runs/bench-infer")]
    pub work_dir: PathBuf,
    /// Also write each float network as ONNX beside its int8 model (MODEL
    /// with extension .onnx): the same weights, for other runtimes
    /// (scripts/bench-vs-onnxruntime.sh).
    #[arg(long)]
    pub onnx: bool,
    /// Print one JSON document on stdout instead of the tables (fields: docs/cli.md).
    #[arg(long)]
    pub json: bool,
    /// No progress and no notes on stderr; the result is printed all the same.
    #[arg(long)]
    pub quiet: bool,
}

/// The networks of one measurement: a float model (if any) and the int8 file.
struct Subject {
    label: String,
    float: Option<FloatModel>,
    model_path: PathBuf,
}

fn arch_spec(arch: ArchName) -> Result<ModelSpec> {
    Ok(match arch {
        ArchName::Paper => AlexNetConfig::paper().build()?,
        ArchName::Torchvision => AlexNetConfig::torchvision().build()?,
        ArchName::Caffenet => AlexNetConfig::caffenet().build()?,
        ArchName::Small => AlexNetConfig::small(Shape::new(1, 64, 64), 10)
            .with_normalize(Normalize::FASHION_MNIST)
            .with_width(0.5)
            .build()?,
    })
}

/// Quantizes `float` on seeded synthetic images (as `host random-model`
/// does) and writes it to `path`.
fn write_quantized(float: &FloatModel, seed: u64, path: &Path) -> Result<()> {
    crate::error::write_atomic(path, &quantize_on_synthetic(float, seed, 4)?)
}

fn subjects(args: &BenchInferArgs) -> Result<Vec<Subject>> {
    crate::error::check_output_dir("--work-dir", &args.work_dir)?;
    std::fs::create_dir_all(&args.work_dir)
        .map_err(|source| HostError::File { path: args.work_dir.clone(), source })?;
    if args.model.is_some() || args.checkpoint.is_some() {
        let float = match &args.checkpoint {
            Some(c) => Some(crate::train::checkpoint::Checkpoint::load(c)?.model),
            None => None,
        };
        let model_path = match (&args.model, &float) {
            (Some(m), _) => m.clone(),
            (None, Some(f)) => {
                let path = args.work_dir.join("checkpoint-int8.axq");
                write_quantized(f, args.seed, &path)?;
                path
            }
            (None, None) => unreachable!("one of them is given"),
        };
        return Ok(vec![Subject { label: model_path.display().to_string(), float, model_path }]);
    }
    let archs = if args.arch.is_empty() { vec![ArchName::Paper, ArchName::Small] } else { args.arch.clone() };
    archs
        .into_iter()
        .map(|arch| {
            let float = FloatModel::random(&arch_spec(arch)?, args.seed);
            let name = format!("{arch:?}").to_lowercase();
            // A directory per network: each gets its own virtual-board image.
            let model_path = args.work_dir.join(&name).join(format!("{name}-seed{}.axq", args.seed));
            write_quantized(&float, args.seed, &model_path)?;
            let label = format!("{name} (seeded random weights, seed {})", args.seed);
            Ok(Subject { label, float: Some(float), model_path })
        })
        .collect()
}

/// Prints how far the instruction-mix plugin's counts are from the PMU's
/// (unless `json`) and refuses to model on counts more than
/// [`mix::MAX_GAP`] apart.
fn check_mix(spec: &ModelSpec, counts: &board::BoardCounts, mix: Option<&mix::BoardMix>, json: bool) -> Result<()> {
    let Some(m) = mix else { return Ok(()) };
    let a = mix::agreement(m, &counts.total);
    if !json {
        let names: Vec<String> = spec.walk().map(|l| l.name.to_string()).collect();
        let worst = a
            .worst_layer
            .map_or(String::new(), |(i, g)| format!(", the largest gap of a layer {:.2}% ({})", 100.0 * g, names[i]));
        println!(
            "  instruction-mix plugin against the PMU under -icount: {:.3}% apart over all layers{worst}",
            100.0 * a.all_layers
        );
    }
    if a.all_layers > mix::MAX_GAP || a.worst_layer.is_some_and(|(_, g)| g > mix::MAX_GAP) {
        return Err(HostError::Usage(format!(
            "the instruction-mix plugin's counts are more than {:.0}% from the board's PMU: the cycle model would rest on wrong counts",
            100.0 * mix::MAX_GAP
        )));
    }
    Ok(())
}

pub fn run(args: &BenchInferArgs) -> Result<()> {
    crate::progress::set_quiet(args.quiet);
    let mut networks = Vec::new();
    for s in subjects(args)? {
        let (bytes, checksum) = load_model(&s.model_path)?;
        // Cannot fail: load_model parsed these very bytes.
        let model = Model::parse(&bytes).expect("checked by load_model");
        let spec = model.spec();
        if s.float.as_ref().is_some_and(|f| f.spec != *spec) {
            return Err(HostError::Usage("--model and --checkpoint are different networks".into()));
        }
        if !args.json {
            println!("== {}: input {}, {:.1} MMAC/image", s.label, spec.input, spec.macs() as f64 / 1e6);
        }
        let onnx = match (&s.float, args.onnx) {
            (Some(float), true) => {
                let path = s.model_path.with_extension("onnx");
                crate::onnx::export(float, &path)?;
                Some(path)
            }
            (None, true) => {
                return Err(HostError::Usage("--onnx needs a float network: --arch or --checkpoint".into()))
            }
            (_, false) => None,
        };
        let board_images = match args.board_images {
            0 => 0,
            n => n.max(args.board_batch),
        };
        let images = synthetic_images(spec, args.images.max(board_images), args.seed ^ 0xB3C4);
        let (int8, int8_layers) = host_engines::int8(&model, &images[..args.images], args.batch)?;
        let mut rows = vec![int8];
        if let Some(float) = &s.float {
            rows.push(host_engines::float(float, &images[..args.images], args.batch)?);
            #[cfg(feature = "tract")]
            rows.push(host_engines::tract(float, &images[..args.images], args.batch, &args.work_dir)?);
        }
        if !args.json {
            println!("host ({} cores; int8 kernels: {})", host_engines::cores(), shared::kernels::tile::kernel_name());
            host_engines::print(&rows, args.batch, args.images);
            host_engines::print_layers(spec, &int8_layers);
        }
        let mut board = None;
        if args.board_images > 0 {
            let plugin = mix::plugin_path();
            let count = |images: &[Vec<u8>], batch| {
                let (counts, mix) =
                    board::count_instructions(&s.model_path, checksum, images, spec, plugin.as_deref(), batch)?;
                check_mix(spec, &counts, mix.as_ref(), args.json)?;
                Ok::<_, HostError>((counts, mix))
            };
            let (counts, board_mix) = count(&images[..args.board_images], 1)?;
            if !args.json {
                board::print(spec, &counts);
            }
            match &board_mix {
                Some(m) if !args.json => {
                    cycle_model::print(spec, m);
                    let pi3 = &cycle_model::BOARDS[0];
                    board::print_link(spec, Some(cycle_model::image_seconds(spec, m, pi3, 1)));
                }
                None if !args.json => {
                    println!(
                        "  cycle model: skipped, no instruction-mix plugin beside this program (building host builds target/<profile>/deps/libqemu_insn_mix.so; or set QEMU_INSN_MIX_PLUGIN)"
                    );
                    board::print_link(spec, None);
                }
                _ => {}
            }
            let mut doc = document::board_bench(spec, &counts, board_mix.as_ref());
            if args.board_batch > 1 {
                let batch = args.board_batch;
                let (batched, batched_mix) = count(&images[..batch], batch)?;
                if !args.json {
                    println!(
                        "board over a batch ({batch} card images run together): per image {:.2} M instructions on the busiest core (batch 1: {:.2} M), {:.2} M on all cores (batch 1: {:.2} M)",
                        batched.critical_path() / 1e6,
                        counts.critical_path() / 1e6,
                        batched.all_cores() / 1e6,
                        counts.all_cores() / 1e6
                    );
                    if let (Some(one), Some(many)) = (&board_mix, &batched_mix) {
                        cycle_model::print_batch(spec, one, many, batch);
                    }
                }
                doc.batch = Some(document::batch_bench(spec, batch, &batched, batched_mix.as_ref()));
            }
            board = Some(doc);
        }
        if args.json {
            networks.push(document::NetworkBench {
                network: s.label,
                model: s.model_path.clone(),
                onnx,
                input: spec.input,
                macs: spec.macs(),
                host: document::host_bench(spec, host_engines::cores(), args.batch, rows, &int8_layers),
                board,
            });
        } else {
            println!();
        }
    }
    if args.json {
        let json = serde_json::to_string_pretty(&document::BenchDocument { networks })
            .map_err(|e| HostError::Usage(e.to_string()))?;
        println!("{json}");
    }
    Ok(())
}
