//! `host import`: a network trained elsewhere (an ONNX file, or a PyTorch
//! state_dict saved as safetensors) as a float checkpoint that `quantize`,
//! `eval`, `predict`, `export-onnx` and `train --resume` take; or an ONNX
//! model quantized elsewhere (QDQ or QOperator) directly as the int8 model
//! file, with the file's scales and zero points.

use crate::args::arch::ArchArgs;
use crate::args::values::{count_u32, float_in, FloatRange};
use crate::data::labels;
use crate::error::write_atomic;
use crate::error::{read_file, HostError, Result};
use crate::import::onnx_graph::{import_onnx, GraphOptions, Imported, ImportedInt8};
use crate::import::state_dict::{import_state_dict, recorded, Recorded};
use crate::spec_table::print_spec;
use crate::train::checkpoint::{Checkpoint, Progress};
use crate::train::recipe::{Hyper, RecipeKind};
use clap::{ArgGroup, Args, ValueEnum};
use shared::float::{FloatModel, LayerParams};
use shared::spec::{AlexNetConfig, Normalize, MAX_INPUT_CHANNELS};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["onnx", "state_dict"])))]
pub struct ImportArgs {
    /// An ONNX model (what `torch.onnx.export` writes, opset 11-23); the
    /// network is read from its graph. A model quantized elsewhere (QDQ or
    /// QOperator, as onnxruntime's quantize_static writes them) becomes the
    /// int8 model file itself.
    #[arg(long)]
    pub onnx: Option<PathBuf>,
    /// A PyTorch state_dict saved with `safetensors.torch.save_file`, of the
    /// network pattern given by --arch (and --input); widths and classes are
    /// read from the weights. torchvision's names or this project's.
    #[arg(long)]
    pub state_dict: Option<PathBuf>,
    #[command(flatten)]
    pub arch: ArchArgs,
    /// The checkpoint to write (for a quantized ONNX model: the int8 model
    /// file, as `host quantize --out` writes).
    #[arg(long)]
    pub out: PathBuf,
    /// Class names, one per line (default: FILE.labels.txt beside the input
    /// if there is one, ImageNet's for 1000 classes, else numbered).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Per-channel mean the network subtracts, in pixel units (0-255), e.g.
    /// 123.675,116.28,103.53 (default: the ONNX file's metadata, else ImageNet's).
    #[arg(long, value_delimiter = ',', requires = "std", value_parser = float_in::<f32>(FloatRange::Finite))]
    pub mean: Option<Vec<f32>>,
    /// Per-channel std the network divides by, in pixel units.
    #[arg(long, value_delimiter = ',', requires = "mean", value_parser = float_in::<f32>(FloatRange::Positive))]
    pub std: Option<Vec<f32>>,
    /// The shorter side photos are scaled to before the centre crop to the
    /// input (default: 256 for a 224 input, as torchvision evaluates, and in
    /// that proportion for other inputs; with --state-dict, the arch's own).
    #[arg(long, value_parser = count_u32(1..=4096))]
    pub resize: Option<u32>,
}

fn normalize(args: &ImportArgs) -> Result<Option<Normalize>> {
    let (Some(mean), Some(std)) = (&args.mean, &args.std) else { return Ok(None) };
    let n = Normalize::from_channels(mean, std).ok_or_else(|| {
        HostError::Usage(format!(
            "--mean and --std need one value per input channel (1 to {MAX_INPUT_CHANNELS}); got {} and {}",
            mean.len(),
            std.len()
        ))
    })?;
    Ok(Some(n))
}

/// Class names: `--labels`, the sidecar of the source file, ImageNet's
/// synsets for 1000 classes (what ImageNet folders are named), or numbers.
fn class_names(args: &ImportArgs, source: &Path, classes: usize) -> Result<Vec<String>> {
    if let Some(file) = &args.labels {
        return labels::read(file, classes);
    }
    let sidecar = labels::sidecar_path(source);
    if sidecar.exists() {
        println!("class names from {}", sidecar.display());
        return labels::read(&sidecar, classes);
    }
    Ok(match classes {
        1000 => labels::imagenet().map(|(synset, _)| synset.to_string()).collect(),
        n => (0..n).map(|c| format!("class{c}")).collect(),
    })
}

/// The network pattern for a state_dict: --arch, with the input size,
/// normalization and resize that the flags give, else that the file records
/// (scripts/train_ddp.py writes them), else the arch's own.
fn state_dict_pattern(args: &ImportArgs, recorded: &Recorded) -> Result<AlexNetConfig> {
    let arch = args.arch.arch.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
    if let Some(theirs) = recorded.arch.as_deref().filter(|a| *a != arch) {
        return Err(HostError::Usage(format!("the file was trained as --arch {theirs}, not --arch {arch}")));
    }
    let mut pattern = args.arch.config()?;
    if let (None, Some(input)) = (args.arch.input, recorded.input) {
        pattern.input = input;
    }
    match (normalize(args)?, recorded.normalize) {
        (Some(n), _) => pattern.normalize = n,
        // Normalize fills channels it was not given with mean 0, std 1.
        (None, Some((_, channels))) if channels != pattern.input.c as usize => {
            return Err(HostError::Usage(format!(
                "the file's header gives {channels} mean/std values, but the network's input {} has {} channels; \
                 pass --mean and --std",
                pattern.input, pattern.input.c
            )))
        }
        (None, Some((n, _))) => pattern.normalize = n,
        (None, None) => {}
    }
    if let (None, Some(side)) = (args.resize, recorded.resize) {
        pattern.resize = side;
    }
    Ok(pattern)
}

pub fn run(args: &ImportArgs) -> Result<()> {
    crate::error::check_output_file("--out", &args.out)?;
    let (source, mut model, notes) = match (&args.onnx, &args.state_dict) {
        (Some(path), _) => {
            let folder = Some(path.parent().map(Path::to_path_buf).unwrap_or_default());
            let options = GraphOptions { normalize: normalize(args)?, folder };
            let imported = import_onnx(&read_file(path)?, &options)
                .map_err(|source| HostError::Import { path: path.clone(), source })?;
            match imported {
                Imported::Float(graph) => (path, graph.model, graph.notes),
                Imported::Int8(int8) => return write_int8(args, path, int8),
            }
        }
        (None, Some(path)) => {
            let bytes = read_file(path)?;
            let pattern = state_dict_pattern(args, &recorded(&bytes))?;
            let (model, notes) = import_state_dict(&bytes, pattern)
                .map_err(|source| HostError::Import { path: path.clone(), source })?;
            (path, model, notes)
        }
        (None, None) => unreachable!("clap requires a source"),
    };
    finish_spec(args, &mut model.spec)?;
    check_finite(&model)?;
    let classes = class_names(args, source, model.spec.classes() as usize)?;
    print_spec(&model.spec);
    for note in &notes {
        println!("note: {note}");
    }
    let layers = model.layers.len();
    let ckpt = Checkpoint {
        model,
        momentum: vec![LayerParams::default(); layers],
        hyper: Hyper::defaults(RecipeKind::Paper),
        progress: Progress::default(),
        classes,
        data: None,
    };
    ckpt.save(&args.out)?;
    println!(
        "wrote {} (input {}, photos scaled to {} then centre-cropped)",
        args.out.display(),
        ckpt.model.spec.input,
        ckpt.model.spec.resize_shorter_side()
    );
    Ok(())
}

/// A model quantized elsewhere: the int8 model file, with the file's
/// scales, zero points and weights, and its class names beside it.
fn write_int8(args: &ImportArgs, source: &Path, int8: ImportedInt8) -> Result<()> {
    let ImportedInt8 { mut spec, quant, notes } = int8;
    finish_spec(args, &mut spec)?;
    let classes = class_names(args, source, spec.classes() as usize)?;
    print_spec(&spec);
    for note in &notes {
        println!("note: {note}");
    }
    let bytes = shared::quantize::quantize_fixed(&spec, quant, Some(&classes))?;
    write_atomic(&args.out, &bytes)?;
    let aligned = shared::format::AlignedBytes::new(&bytes);
    let model = shared::Model::parse(&aligned).map_err(|source| HostError::Model { path: args.out.clone(), source })?;
    println!(
        "wrote {}: the int8 model file ({} bytes, crc32 {:#010x}), with the ONNX file's scales and zero points; \
         no `host quantize` needed (input {}, photos scaled to {} then centre-cropped)",
        args.out.display(),
        bytes.len(),
        model.checksum(),
        spec.input,
        spec.resize_shorter_side()
    );
    let names = labels::sidecar_path(&args.out);
    labels::write(&names, &classes)?;
    println!("wrote {} (class names for `host predict`)", names.display());
    Ok(())
}

/// The flags' mean/std check and resize, on an imported spec.
fn finish_spec(args: &ImportArgs, spec: &mut shared::spec::ModelSpec) -> Result<()> {
    // Normalize holds the unused channels as mean 0, std 1: a list of the
    // wrong length would otherwise leave channels unnormalized, silently.
    if let Some(mean) = args.mean.as_ref().filter(|m| m.len() != spec.input.c as usize) {
        return Err(HostError::Usage(format!(
            "--mean and --std give {} values, but the network's input {} has {} channels",
            mean.len(),
            spec.input,
            spec.input.c
        )));
    }
    spec.resize = match args.resize {
        Some(side) if side < spec.input.h.max(spec.input.w) => {
            return Err(HostError::Usage(format!("--resize {side} is smaller than the input {}", spec.input)))
        }
        Some(side) => side,
        None if args.onnx.is_some() => (spec.input.h.max(spec.input.w) * 256).div_ceil(224),
        None => spec.resize,
    };
    spec.validate()?;
    Ok(())
}

/// NaN or infinite weights would quantize to nonsense; name the layer.
fn check_finite(model: &FloatModel) -> Result<()> {
    for (info, p) in model.spec.walk().zip(&model.layers) {
        if p.weights.iter().chain(&p.bias).any(|v| !v.is_finite()) {
            return Err(HostError::Usage(format!("{}: weights that are NaN or infinite", info.name)));
        }
    }
    Ok(())
}
