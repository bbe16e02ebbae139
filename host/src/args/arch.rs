//! Command-line choice of network: the paper's AlexNet or a scaled variant.

use super::values::{count_u32, float_in, FloatRange};
use crate::error::{HostError, Result};
use clap::{Args, ValueEnum};
use shared::spec::{AlexNetConfig, ModelSpec, Normalize, Shape};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ArchName {
    /// Krizhevsky et al. 2012: 3x227x227, 1000 classes, 60,965,224 parameters.
    Paper,
    /// The scaled AlexNet that trains in minutes on a CPU.
    Small,
    /// torchvision's `alexnet`: 3x224x224, no LRN, no groups, 61,100,840 parameters.
    Torchvision,
    /// Caffe's reference CaffeNet: the paper's sizes, pooling (ceil mode)
    /// before each LRN.
    Caffenet,
}

/// Network shape options shared by every command that builds a model.
#[derive(Clone, Debug, Args)]
pub struct ArchArgs {
    /// Which AlexNet.
    #[arg(long, value_enum, default_value_t = ArchName::Small)]
    pub arch: ArchName,
    /// Input as CxHxW (default: 3x227x227 for paper and caffenet,
    /// 3x224x224 for torchvision, 1x64x64 for small).
    #[arg(long, value_parser = parse_shape)]
    pub input: Option<Shape>,
    /// Number of classes (default: 1000 for paper, torchvision and caffenet,
    /// 10 for small).
    #[arg(long, value_parser = count_u32(1..=MAX_CLASSES))]
    pub classes: Option<u32>,
    /// Width multiplier for every conv and hidden FC layer (above 0, at most 64).
    #[arg(long, default_value_t = 1.0, value_parser = float_in::<f32>(FloatRange::Above(0.0, 64.0)))]
    pub width: f32,
}

/// More classes than any public dataset has (ImageNet-21k: 21,841): the
/// last layer's weights alone are then gigabytes.
pub const MAX_CLASSES: u64 = 100_000;

pub fn parse_shape(s: &str) -> std::result::Result<Shape, String> {
    let parts: Vec<&str> = s.split('x').collect();
    let nums: Option<Vec<u32>> = parts.iter().map(|p| p.trim().parse().ok()).collect();
    match nums.as_deref() {
        Some(&[c, h, w]) if c > 0 && h > 0 && w > 0 => Ok(Shape::new(c, h, w)),
        _ => Err(format!("expected CxHxW such as 1x64x64, got {s:?}")),
    }
}

impl ArchArgs {
    pub fn config(&self) -> Result<AlexNetConfig> {
        // The parser takes only finite widths in (0, 64]; a caller that
        // builds these arguments itself gets the same check.
        if !(self.width > 0.0 && self.width.is_finite()) {
            return Err(HostError::Usage(format!("--width must be positive, got {}", self.width)));
        }
        let mut cfg = match self.arch {
            ArchName::Paper => AlexNetConfig::paper(),
            ArchName::Torchvision => AlexNetConfig::torchvision(),
            ArchName::Caffenet => AlexNetConfig::caffenet(),
            ArchName::Small => {
                let input = self.input.unwrap_or(Shape::new(1, 64, 64));
                let norm = if input.c == 1 { Normalize::FASHION_MNIST } else { Normalize::CIFAR10 };
                AlexNetConfig::small(input, 10).with_normalize(norm)
            }
        };
        if let Some(input) = self.input {
            cfg.input = input;
        }
        if let Some(classes) = self.classes {
            cfg.classes = classes;
        }
        if self.width != 1.0 {
            cfg = cfg.with_width(self.width);
        }
        Ok(cfg)
    }

    /// The network these flags describe; one they cannot make (an input
    /// too small for its kernels, too many values) is an error naming them.
    pub fn spec(&self) -> Result<ModelSpec> {
        let cfg = self.config()?;
        cfg.build().map_err(|e| {
            HostError::Usage(format!(
                "--arch {} with --input {}, --classes {}, --width {} is not a network this project can build: {e}",
                self.arch.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default(),
                cfg.input,
                cfg.classes,
                self.width
            ))
        })
    }
}
