//! The f32 network built from the reference kernels: float weights for a
//! spec, a forward pass that can report every layer's output (calibration),
//! and seeded random weights for tests. Host-side (needs `alloc`).

extern crate alloc;

use crate::layers::conv::{conv2d_f32_ref, ConvGeometry};
use crate::layers::lrn::lrn_f32_ref;
use crate::layers::pool::{avg_pool_f32, max_pool};
use crate::spec::{Layer, ModelSpec};
use alloc::vec;
use alloc::vec::Vec;

/// Weights (OIHW / `[out][in]`) and biases of one layer; empty for layers
/// without parameters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerParams {
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FloatModel {
    pub spec: ModelSpec,
    pub layers: Vec<LayerParams>,
}

/// SplitMix64: a tiny, portable generator so seeded weights are the same on
/// every machine without pulling a RNG crate into `shared`.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn next_normal(&mut self) -> f64 {
        let u1 = self.next_f64().max(f64::MIN_POSITIVE);
        let u2 = self.next_f64();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2)
    }
}

impl FloatModel {
    /// He-normal weights and small random biases, reproducible from `seed`.
    pub fn random(spec: &ModelSpec, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let layers = spec
            .walk()
            .map(|l| {
                if !l.has_weights() {
                    return LayerParams::default();
                }
                let fan_in = (l.weight_len() / l.output.c as usize) as f64;
                let std = libm::sqrt(2.0 / fan_in);
                LayerParams {
                    weights: (0..l.weight_len()).map(|_| (rng.next_normal() * std) as f32).collect(),
                    bias: (0..l.output.c).map(|_| (rng.next_normal() * 0.05) as f32).collect(),
                }
            })
            .collect();
        FloatModel { spec: spec.clone(), layers }
    }

    /// Pixels (CHW, 0..=255) to the normalized network input.
    pub fn normalize(&self, image: &[u8]) -> Vec<f32> {
        let n = &self.spec.normalize;
        let plane = self.spec.input.h as usize * self.spec.input.w as usize;
        image
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let c = i / plane;
                (*p as f32 - n.mean[c]) / n.std[c]
            })
            .collect()
    }

    /// Logits for one image; `trace(layer_index, output)` sees every layer's
    /// output (index `usize::MAX` is the normalized input).
    pub fn forward_trace(&self, image: &[u8], mut trace: impl FnMut(usize, &[f32])) -> Vec<f32> {
        assert_eq!(image.len(), self.spec.input.len(), "image size");
        let mut x = self.normalize(image);
        trace(usize::MAX, &x);
        for (l, p) in self.spec.walk().zip(&self.layers) {
            let mut y = vec![0.0f32; l.output.len()];
            match l.layer {
                Layer::Conv(c) => {
                    let g = ConvGeometry::new(l.input, l.output, &c);
                    conv2d_f32_ref(&g, &x, &p.weights, &p.bias, c.relu, &mut y);
                }
                Layer::Dense(d) => {
                    let g = ConvGeometry::dense(l.input.len(), l.output.len());
                    conv2d_f32_ref(&g, &x, &p.weights, &p.bias, d.relu, &mut y);
                }
                Layer::Lrn(spec) => lrn_f32_ref(&spec, l.input, &x, &mut y),
                Layer::MaxPool(spec) => max_pool(&spec, l.input, &x, &mut y),
                Layer::AvgPool(spec) => avg_pool_f32(&spec, l.input, &x, &mut y),
            }
            trace(l.index, &y);
            x = y;
        }
        x
    }

    pub fn forward(&self, image: &[u8]) -> Vec<f32> {
        self.forward_trace(image, |_, _| {})
    }
}
