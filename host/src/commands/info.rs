//! `host info --model MODEL`: what an int8 model file holds: spec,
//! parameters and MACs per layer, quantization of every layer, memory plan,
//! checksum.

use crate::error::{HostError, Result};
use crate::inference::int8::load_model;
use crate::spec_table::print_spec;
use clap::Args;
use shared::format::LayerQuant;
use shared::{Engine, Model};
use std::path::PathBuf;

#[derive(Clone, Debug, Args)]
pub struct InfoArgs {
    /// The int8 model file.
    #[arg(long, required_unless_present = "bare_model")]
    pub model: Option<PathBuf>,
    /// The model as a bare argument: the older spelling, still accepted.
    #[arg(hide = true, conflicts_with = "model")]
    pub bare_model: Option<PathBuf>,
}

pub fn run(args: &InfoArgs) -> Result<()> {
    // Cannot fail: clap requires --model unless the bare form is given.
    let path = args.model.as_ref().or(args.bare_model.as_ref()).expect("clap requires --model or the bare form");
    let (bytes, _) = load_model(path)?;
    let model = Model::parse(&bytes).map_err(|source| HostError::Model { path: path.to_path_buf(), source })?;
    println!(
        "{}: format v{}, {} bytes, crc32 {:#010x}",
        path.display(),
        shared::format::FORMAT_VERSION,
        model.file_len(),
        model.checksum()
    );
    print_spec(model.spec());
    let spec = model.spec();
    // At most MAX_INPUT_CHANNELS, the length of mean and std: the spec was
    // validated when the file was parsed.
    let c = spec.input.c as usize;
    println!(
        "preprocessing: photos scaled to a shorter side of {} then centre-cropped; (pixel - {:?}) / {:?}",
        spec.resize_shorter_side(),
        &spec.normalize.mean[..c],
        &spec.normalize.std[..c]
    );
    match model.labels() {
        Some(names) => {
            let names: Vec<&str> = names.collect();
            let more = if names.len() > 5 { ", ..." } else { "" };
            println!("class names: {} ({}{more})", names.len(), names[..names.len().min(5)].join(", "));
        }
        None => println!("class names: none in the file"),
    }
    let input = model.meta().input;
    println!("\nquantization (real = scale * (q - zero_point))");
    println!("input   scale {:.6} zero point {}", input.output.scale, input.output.zero_point);
    for (l, q) in model.spec().walk().zip(&model.meta().layers) {
        let (i, o) = (q.input(), q.output());
        let extra = match q {
            LayerQuant::Conv(w) | LayerQuant::Dense(w) => {
                let scales = model.tensor_f32(w.weight_scales);
                let (lo, hi) = scales.iter().fold((f32::MAX, f32::MIN), |(a, b), s| (a.min(*s), b.max(*s)));
                format!("weight scales {lo:.2e}..{hi:.2e} ({} channels)", scales.len())
            }
            LayerQuant::Lrn(t) => {
                format!("gain table {} entries, Q{}", model.tensor_i32(t.table).len(), t.params.value_shift)
            }
            LayerQuant::MaxPool(_) | LayerQuant::AvgPool(_) => String::new(),
        };
        println!(
            "{:<6}  in {:.5}/{:<4} out {:.5}/{:<4} {extra}",
            l.name.to_string(),
            i.scale,
            i.zero_point,
            o.scale,
            o.zero_point
        );
    }
    let engine = Engine::new(&model).map_err(|e| HostError::Usage(e.to_string()))?;
    let plan = engine.plan();
    println!(
        "\nmemory plan: activations {} B + scratch {} B = {} B",
        plan.arena_len,
        plan.scratch_len,
        plan.total_len()
    );
    Ok(())
}
