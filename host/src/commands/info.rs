//! `host info --model MODEL`: what an int8 model file holds: spec,
//! parameters and MACs per layer, quantization of every layer, memory plan,
//! checksum; as a table, or with `--json` as one JSON document.

use crate::error::{HostError, Result};
use crate::inference::int8::load_model;
use crate::spec_table::{op_name, print_spec};
use clap::Args;
use serde::Serialize;
use shared::format::LayerQuant;
use shared::quant::QParams;
use shared::spec::Shape;
use shared::{Engine, Model};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Args)]
#[command(after_help = "Examples:
  host info --model runs/fashion/model.axq
  host info --model runs/fashion/model.axq --json | jq .memory_plan.total")]
pub struct InfoArgs {
    /// The int8 model file.
    #[arg(long, required_unless_present = "bare_model")]
    pub model: Option<PathBuf>,
    /// The model as a bare argument: the older spelling, still accepted.
    #[arg(hide = true, conflicts_with = "model")]
    pub bare_model: Option<PathBuf>,
    /// Print one JSON document on stdout instead of the tables (fields: docs/cli.md).
    #[arg(long)]
    pub json: bool,
    /// No progress and no notes on stderr. Info prints none today, only its
    /// result: the flag is here so that a script can pass `--quiet` to every
    /// command whose result it reads (eval, compare, bench-infer, info).
    #[arg(long)]
    pub quiet: bool,
}

/// `host info --json`: what the tables show, with the numbers unrounded.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub format_version: u16,
    pub bytes: usize,
    pub crc32: u32,
    pub input: Shape,
    pub parameters: u64,
    pub macs: u64,
    /// Photos are scaled to this shorter side, then centre-cropped to the input.
    pub resize_shorter_side: u32,
    /// Per input channel, in pixel units: `(pixel - mean) / std`.
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// The class names in class order; null when the file holds none.
    pub classes: Option<Vec<String>>,
    /// The quantization of the network's input.
    pub input_quant: QParams,
    pub layers: Vec<LayerInfoJson>,
    pub memory_plan: MemoryPlanJson,
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerInfoJson {
    pub name: String,
    /// As in the table: e.g. `conv 3x3/1 pad 1 g1 relu`.
    pub op: String,
    pub output: Shape,
    pub params: u64,
    pub macs: u64,
    pub input_quant: QParams,
    pub output_quant: QParams,
    /// Convolution and dense layers: the per-channel weight scales' range.
    pub weight_scales: Option<WeightScales>,
    /// LRN layers: the gain table's length and fixed-point format.
    pub gain_table: Option<GainTable>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct WeightScales {
    pub min: f32,
    pub max: f32,
    pub channels: usize,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct GainTable {
    pub entries: usize,
    /// The gains are Q`value_shift` fixed point.
    pub value_shift: u32,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct MemoryPlanJson {
    pub activations: usize,
    pub scratch: usize,
    pub total: usize,
}

/// What `model` (read from `path`) holds.
pub fn model_info(path: &Path, model: &Model) -> Result<ModelInfo> {
    let spec = model.spec();
    // At most MAX_INPUT_CHANNELS, the length of mean and std: the spec was
    // validated when the file was parsed.
    let c = spec.input.c as usize;
    let layers = spec
        .walk()
        .zip(&model.meta().layers)
        .map(|(l, q)| {
            let (weight_scales, gain_table) = match q {
                LayerQuant::Conv(w) | LayerQuant::Dense(w) => {
                    let scales = model.tensor_f32(w.weight_scales);
                    let (min, max) = scales.iter().fold((f32::MAX, f32::MIN), |(a, b), s| (a.min(*s), b.max(*s)));
                    (Some(WeightScales { min, max, channels: scales.len() }), None)
                }
                LayerQuant::Lrn(t) => {
                    let entries = model.tensor_i32(t.table).len();
                    (None, Some(GainTable { entries, value_shift: t.params.value_shift }))
                }
                LayerQuant::MaxPool(_) | LayerQuant::AvgPool(_) => (None, None),
            };
            LayerInfoJson {
                name: l.name.to_string(),
                op: op_name(&l.layer),
                output: l.output,
                params: l.params(),
                macs: l.macs(),
                input_quant: q.input(),
                output_quant: q.output(),
                weight_scales,
                gain_table,
            }
        })
        .collect();
    let engine = Engine::new(model).map_err(|e| HostError::Usage(e.to_string()))?;
    let plan = engine.plan();
    Ok(ModelInfo {
        path: path.to_path_buf(),
        format_version: shared::format::FORMAT_VERSION,
        bytes: model.file_len(),
        crc32: model.checksum(),
        input: spec.input,
        parameters: spec.param_count(),
        macs: spec.macs(),
        resize_shorter_side: spec.resize_shorter_side(),
        mean: spec.normalize.mean[..c].to_vec(),
        std: spec.normalize.std[..c].to_vec(),
        classes: model.labels().map(|names| names.map(String::from).collect()),
        input_quant: model.meta().input.output,
        layers,
        memory_plan: MemoryPlanJson { activations: plan.arena_len, scratch: plan.scratch_len, total: plan.total_len() },
    })
}

pub fn run(args: &InfoArgs) -> Result<()> {
    crate::progress::set_quiet(args.quiet);
    // Cannot fail: clap requires --model unless the bare form is given.
    let path = args.model.as_ref().or(args.bare_model.as_ref()).expect("clap requires --model or the bare form");
    let (bytes, _) = load_model(path)?;
    let model = Model::parse(&bytes).map_err(|source| HostError::Model { path: path.to_path_buf(), source })?;
    let info = model_info(path, &model)?;
    if args.json {
        let json = serde_json::to_string_pretty(&info).map_err(|e| HostError::Usage(e.to_string()))?;
        println!("{json}");
        return Ok(());
    }
    println!("{}: format v{}, {} bytes, crc32 {:#010x}", path.display(), info.format_version, info.bytes, info.crc32);
    print_spec(model.spec());
    println!(
        "preprocessing: photos scaled to a shorter side of {} then centre-cropped; (pixel - {:?}) / {:?}",
        info.resize_shorter_side, info.mean, info.std
    );
    match &info.classes {
        Some(names) => {
            let more = if names.len() > 5 { ", ..." } else { "" };
            println!("class names: {} ({}{more})", names.len(), names[..names.len().min(5)].join(", "));
        }
        None => println!("class names: none in the file"),
    }
    println!("\nquantization (real = scale * (q - zero_point))");
    println!("input   scale {:.6} zero point {}", info.input_quant.scale, info.input_quant.zero_point);
    for l in &info.layers {
        let extra = match (l.weight_scales, l.gain_table) {
            (Some(w), _) => format!("weight scales {:.2e}..{:.2e} ({} channels)", w.min, w.max, w.channels),
            (None, Some(t)) => format!("gain table {} entries, Q{}", t.entries, t.value_shift),
            (None, None) => String::new(),
        };
        let (i, o) = (l.input_quant, l.output_quant);
        println!("{:<6}  in {:.5}/{:<4} out {:.5}/{:<4} {extra}", l.name, i.scale, i.zero_point, o.scale, o.zero_point);
    }
    let plan = info.memory_plan;
    println!("\nmemory plan: activations {} B + scratch {} B = {} B", plan.activations, plan.scratch, plan.total);
    Ok(())
}
