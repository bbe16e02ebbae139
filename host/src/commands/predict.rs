//! `host predict`: top-5 classes with names and scores for image files, from
//! a float checkpoint or an int8 model, preprocessed as evaluation does.

use crate::data::image_folder::{open_image, to_chw};
use crate::data::labels;
use crate::error::{HostError, Result};
use crate::inference::int8::{dequantized_logits, load_model};
use crate::inference::{float, top5};
use crate::train::checkpoint::Checkpoint;
use crate::train::preprocess::{eval_pixels, InputGeometry};
use clap::{ArgGroup, Args, ValueEnum};
use shared::format::AlignedBytes;
use shared::Model;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Resize {
    /// `stretch` for square images, `crop` otherwise.
    Auto,
    /// The whole image resized to the input (Fashion-MNIST and CIFAR-10 evaluation).
    Stretch,
    /// Shorter side scaled, then the centre cut out (evaluation of photo folders).
    Crop,
}

#[derive(Clone, Debug, Args)]
#[command(group(ArgGroup::new("network").required(true).args(["checkpoint", "model"])))]
pub struct PredictArgs {
    /// Image files (any format the `image` crate decodes: PNG, JPEG, ...).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// A float training checkpoint.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// An int8 model file (what the board runs).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Class names, one per line (default: the checkpoint's, the int8 file's, the labels file
    /// written beside the int8 model, or the built-in table for the class count).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Resize::Auto)]
    pub resize: Resize,
    /// Refuse an image whose channels are not the network's (grey for a
    /// colour network, colour for a grey one) instead of converting it, as
    /// torchvision's loaders do and this command does by default.
    #[arg(long)]
    pub exact_channels: bool,
    /// Converting is the default now; the flag is still accepted.
    #[arg(long, hide = true, conflicts_with = "exact_channels")]
    pub convert: bool,
}

/// The network that scores images: float (dfdx) or int8 (the board's code).
enum Network {
    Float(Box<Checkpoint>),
    Int8 { bytes: AlignedBytes, path: PathBuf },
}

/// One ranked class with its softmax probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub class: usize,
    pub probability: f32,
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let mut p = vec![0.0; logits.len()];
    shared::layers::softmax::softmax_f32(logits, &mut p);
    p
}

/// Network-size pixels for one file, and whether its channels were
/// converted to the network's (grey to RGB, or colour to grey by ITU-R 601
/// luma); with `exact_channels` a mismatch is an error instead.
pub fn load_image(path: &Path, geom: InputGeometry, resize: Resize, exact_channels: bool) -> Result<(Vec<u8>, bool)> {
    let input = geom.input;
    let img = open_image(path)?;
    let converted = img.color().has_color() != (input.c == 3);
    if converted && exact_channels {
        let (found, wanted) =
            if input.c == 3 { ("grey", "colour (3 channels)") } else { ("colour", "grey (1 channel)") };
        return Err(HostError::Usage(format!(
            "{}: a {found} image, but the network takes {wanted} input (without --exact-channels it is converted)",
            path.display()
        )));
    }
    let chw = to_chw(&img, input.c)?;
    let stretch = match resize {
        Resize::Auto => chw.shape.h == chw.shape.w,
        Resize::Stretch => true,
        Resize::Crop => false,
    };
    Ok((eval_pixels(&chw, geom, stretch), converted))
}

impl Network {
    fn open(args: &PredictArgs) -> Result<Network> {
        match (&args.checkpoint, &args.model) {
            (Some(ckpt), _) => Ok(Network::Float(Box::new(Checkpoint::load(ckpt)?))),
            (None, Some(path)) => Ok(Network::Int8 { bytes: load_model(path)?.0, path: path.clone() }),
            (None, None) => Err(HostError::Usage("pass --checkpoint or --model".into())),
        }
    }

    fn int8<'b>(bytes: &'b AlignedBytes, path: &Path) -> Result<Model<'b>> {
        Model::parse(bytes).map_err(|source| HostError::Model { path: path.to_path_buf(), source })
    }

    fn input_and_classes(&self) -> Result<(InputGeometry, usize)> {
        let spec = match self {
            Network::Float(ckpt) => ckpt.model.spec.clone(),
            Network::Int8 { bytes, path } => Self::int8(bytes, path)?.spec().clone(),
        };
        Ok((InputGeometry::of(&spec), spec.classes() as usize))
    }

    fn names(&self, file: Option<&Path>, classes: usize, channels: u32) -> Result<Vec<String>> {
        if let Some(file) = file {
            return labels::read(file, classes).map(|n| labels::readable(&n));
        }
        let own: Option<Vec<String>> = match self {
            Network::Float(ckpt) => Some(ckpt.classes.clone()),
            Network::Int8 { bytes, path } => Self::int8(bytes, path)?.labels().map(|l| l.map(String::from).collect()),
        };
        match (own, self) {
            (Some(names), _) if names.len() == classes => Ok(labels::readable(&names)),
            (_, Network::Int8 { path, .. }) if labels::sidecar_path(path).exists() => {
                labels::read(&labels::sidecar_path(path), classes).map(|n| labels::readable(&n))
            }
            _ => Ok(labels::builtin(classes, channels)),
        }
    }

    /// Logits as floats: the float network's, or the int8 ones dequantized.
    fn logits(&self, images: &[Vec<u8>]) -> Result<Vec<Vec<f32>>> {
        match self {
            Network::Float(ckpt) => Ok(float::logits_of(&ckpt.model, images, "float")),
            Network::Int8 { bytes, path } => dequantized_logits(&Self::int8(bytes, path)?, images),
        }
    }
}

/// The five most likely classes, ties to the lower index (as the board ranks).
pub fn rank(logits: &[f32]) -> Vec<Ranked> {
    let p = softmax(logits);
    top5(logits).into_iter().map(|class| Ranked { class, probability: p[class] }).collect()
}

pub fn run(args: &PredictArgs) -> Result<()> {
    let network = Network::open(args)?;
    let (geom, classes) = network.input_and_classes()?;
    let input = geom.input;
    let names = network.names(args.labels.as_deref(), classes, input.c)?;
    // An unreadable file does not cost the other images their predictions;
    // it is reported after them, and the exit status says something failed.
    let (mut paths, mut images, mut failed, mut converted) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for path in &args.images {
        match load_image(path, geom, args.resize, args.exact_channels) {
            Ok((pixels, was_converted)) => {
                paths.push(path);
                images.push(pixels);
                converted += was_converted as usize;
            }
            Err(e) => failed.push(e),
        }
    }
    if converted > 0 {
        let to = if input.c == 3 { "colour (RGB)" } else { "grey (ITU-R 601 luma)" };
        eprintln!(
            "note: converted {converted} of {} images to {to}, as the network takes (--exact-channels refuses them)",
            args.images.len()
        );
    }
    let engine = match network {
        Network::Float(_) => "float",
        Network::Int8 { .. } => "int8",
    };
    if !images.is_empty() {
        for (path, logits) in paths.iter().zip(network.logits(&images)?) {
            println!("{} ({engine})", path.display());
            for (k, r) in rank(&logits).iter().enumerate() {
                // Cannot fail: `names` has one entry per class (`labels::read`
                // checks a file's count; the others are made for `classes`).
                println!("  {}. {:<24} {:6.2}%", k + 1, names[r.class], 100.0 * r.probability);
            }
        }
    }
    match failed.len() {
        0 => Ok(()),
        1 => Err(failed.remove(0)),
        n => Err(HostError::Usage(format!(
            "{n} of {} images could not be read: {}",
            args.images.len(),
            failed.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_logit_with_probabilities_that_sum_to_one() {
        let logits = [0.5, 3.0, -1.0, 3.0, 2.0, 0.0, 1.0];
        let r = rank(&logits);
        assert_eq!(r.iter().map(|r| r.class).collect::<Vec<_>>(), [1, 3, 4, 6, 0]);
        assert!((r[0].probability - r[1].probability).abs() < 1e-7);
        let total: f32 = softmax(&logits).iter().sum();
        assert!((total - 1.0).abs() < 1e-6);
    }
}
