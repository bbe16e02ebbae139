//! The model as data: one description of AlexNet's layer sequence that
//! training, quantization, ONNX export, the memory plan and the firmware all
//! read. Activations are CHW (batch implicit), weights OIHW as in PyTorch, and
//! a Dense layer after a spatial one flattens in C, H, W order.
//!
//! [`AlexNetConfig`] (in `alexnet.rs`) builds the specs of the AlexNet family:
//! the paper's network, torchvision's and the small one.

mod alexnet;

pub use alexnet::AlexNetConfig;

use core::fmt;
use heapless::Vec;
use serde::{Deserialize, Serialize};

/// Upper bound on layers in a spec; the paper network has 13.
pub const MAX_LAYERS: usize = 24;
/// Upper bound on the values one output sums over (in/groups * k * k, or a
/// dense layer's inputs): with int8 operands the int32 sum cannot overflow.
pub const MAX_PATCH_LEN: usize = 65_535;
/// Upper bound on input channels (grey, RGB, RGBA-like sensors).
pub const MAX_INPUT_CHANNELS: usize = 4;
/// Upper bound on the values of one tensor (input, activation): offsets of
/// its bytes, and of its values as i32, fit in a u32 on any target.
const MAX_TENSOR_LEN: usize = (u32::MAX / 4) as usize;
/// Largest output side of an average pool beyond its input's side.
const MAX_AVG_POOL_OUT: u32 = 64;

/// A CHW activation shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub c: u32,
    pub h: u32,
    pub w: u32,
}

impl Shape {
    pub const fn new(c: u32, h: u32, w: u32) -> Self {
        Shape { c, h, w }
    }

    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.c as usize * self.h as usize * self.w as usize
    }

    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of elements, or `None` if it does not fit in `usize` (a shape
    /// read from a file, before [`ModelSpec::validate`] has bounded it).
    pub const fn checked_len(&self) -> Option<usize> {
        match (self.c as usize).checked_mul(self.h as usize) {
            Some(n) => n.checked_mul(self.w as usize),
            None => None,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

/// 2-D convolution, square kernel, symmetric zero padding, optional ReLU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSpec {
    pub out_channels: u32,
    pub kernel: u32,
    pub stride: u32,
    pub padding: u32,
    /// Channel groups: the paper's two-GPU split of conv2, conv4 and conv5.
    pub groups: u32,
    pub relu: bool,
}

/// Local response normalisation across channels, in the paper's form
/// `b = a / (k + alpha * sum_{window} a^2)^beta` (alpha is *not* divided by
/// `size`, unlike ONNX and PyTorch).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrnSpec {
    pub size: u32,
    pub alpha: f32,
    pub beta: f32,
    pub k: f32,
}

impl LrnSpec {
    /// Section 3.3 of the paper: k = 2, n = 5, alpha = 1e-4, beta = 0.75.
    pub const PAPER: LrnSpec = LrnSpec { size: 5, alpha: 1e-4, beta: 0.75, k: 2.0 };
}

/// Max pooling with a square window (the paper's 3x3 stride 2 pooling
/// overlaps), floor rounding over the padded map. Padding never wins: a
/// padded tap counts as minus infinity (the lowest int8 value in int8), as
/// in PyTorch and ONNX. Ceil-mode pooling (Caffe's, PyTorch's
/// `ceil_mode=True`) is the same pooling with the extra rows and columns it
/// takes below and to the right counted in `pads`; [`PoolSpec::ceil_pads`]
/// computes them. Every window holds at least one input value
/// ([`output_shape`] refuses a spec where one would not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSpec {
    pub kernel: u32,
    pub stride: u32,
    /// Rows above, columns left, rows below, columns right (ONNX's order).
    #[serde(default)]
    pub pads: [u32; 4],
}

impl PoolSpec {
    /// Unpadded pooling.
    pub const fn new(kernel: u32, stride: u32) -> Self {
        PoolSpec { kernel, stride, pads: [0; 4] }
    }

    pub const fn is_padded(&self) -> bool {
        self.pads[0] | self.pads[1] | self.pads[2] | self.pads[3] != 0
    }

    /// Output length along one axis of `input` values with `before` and
    /// `after` padding, or `None` if some window would hold no input value
    /// (or the window does not fit).
    pub const fn out_len(&self, input: u32, before: u32, after: u32) -> Option<u32> {
        let (k, s) = (self.kernel as u64, self.stride as u64);
        let padded = input as u64 + before as u64 + after as u64;
        if k == 0 || s == 0 || input == 0 || padded < k || before as u64 >= k {
            return None;
        }
        let out = (padded - k) / s + 1;
        // The last window must start inside the input.
        if (out - 1) * s >= input as u64 + before as u64 || out > u32::MAX as u64 {
            return None;
        }
        Some(out as u32)
    }

    /// The padding after the input (below, or to the right) that ceil-mode
    /// pooling of `input` values with `before` and `after` padding takes:
    /// `after` plus what the last window hangs over, where that window
    /// starts inside the input or the padding before it (PyTorch's and
    /// ONNX's rule). `None` where the pooling has no output.
    pub const fn ceil_pads(&self, input: u32, before: u32, after: u32) -> Option<u32> {
        let (k, s) = (self.kernel as u64, self.stride as u64);
        let padded = input as u64 + before as u64 + after as u64;
        if k == 0 || s == 0 || padded < k {
            return None;
        }
        let mut out = (padded - k).div_ceil(s) + 1;
        if (out - 1) * s >= input as u64 + before as u64 {
            out -= 1;
        }
        let needed = (out - 1) * s + k;
        let extra = needed.saturating_sub(padded);
        let total = after as u64 + extra;
        if total > u32::MAX as u64 {
            return None;
        }
        Some(total as u32)
    }
}

/// Adaptive average pooling to a fixed output size, as PyTorch's
/// `AdaptiveAvgPool2d`: output cell `(i, j)` averages input rows
/// `floor(i*H/out_h)..ceil((i+1)*H/out_h)` and the same for columns.
/// torchvision's AlexNet ends its features with one to 6x6; at 224x224 input
/// the map already is 6x6 and the spec leaves the identity out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvgPoolSpec {
    pub out_h: u32,
    pub out_w: u32,
}

impl AvgPoolSpec {
    /// Input rows (or columns) averaged into output index `i`, as `start..end`.
    pub const fn window(i: u32, input: u32, output: u32) -> (u32, u32) {
        let start = (i as u64 * input as u64 / output as u64) as u32;
        let end = ((i as u64 + 1) * input as u64).div_ceil(output as u64) as u32;
        (start, end)
    }
}

/// Fully connected layer; `dropout` applies to its output in training only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenseSpec {
    pub out_features: u32,
    pub relu: bool,
    pub dropout: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Layer {
    Conv(ConvSpec),
    Lrn(LrnSpec),
    MaxPool(PoolSpec),
    Dense(DenseSpec),
    AvgPool(AvgPoolSpec),
}

/// Per-channel input normalisation in pixel units (0..=255):
/// `x = (pixel - mean[c]) / std[c]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalize {
    pub mean: [f32; MAX_INPUT_CHANNELS],
    pub std: [f32; MAX_INPUT_CHANNELS],
}

impl Normalize {
    /// torchvision's ImageNet statistics, in pixel units.
    pub const IMAGENET: Normalize =
        Normalize { mean: [123.675, 116.28, 103.53, 0.0], std: [58.395, 57.12, 57.375, 1.0] };
    /// Fashion-MNIST training-set statistics (0.2860, 0.3530), in pixel units.
    pub const FASHION_MNIST: Normalize = Normalize { mean: [72.94, 0.0, 0.0, 0.0], std: [90.02, 1.0, 1.0, 1.0] };
    /// CIFAR-10 training-set statistics, in pixel units.
    pub const CIFAR10: Normalize = Normalize { mean: [125.31, 122.95, 113.87, 0.0], std: [62.99, 62.09, 66.70, 1.0] };

    /// From one mean and one std per channel; `None` unless both have the
    /// same length, 1 to [`MAX_INPUT_CHANNELS`]. Unused channels get 0 and 1.
    pub fn from_channels(mean: &[f32], std: &[f32]) -> Option<Normalize> {
        if mean.len() != std.len() || mean.is_empty() || mean.len() > MAX_INPUT_CHANNELS {
            return None;
        }
        let mut n = Normalize { mean: [0.0; MAX_INPUT_CHANNELS], std: [1.0; MAX_INPUT_CHANNELS] };
        n.mean[..mean.len()].copy_from_slice(mean);
        n.std[..std.len()].copy_from_slice(std);
        Some(n)
    }
}

/// Kind of a layer, for naming and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    Conv,
    Lrn,
    MaxPool,
    Dense,
    AvgPool,
}

/// The paper's names: conv1..conv5, lrn1, lrn2, pool1.., fc6..fc8 (dense layers
/// are numbered after the convolutions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerName {
    pub kind: LayerKind,
    pub index: u32,
}

impl fmt::Display for LayerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.kind {
            LayerKind::Conv => "conv",
            LayerKind::Lrn => "lrn",
            LayerKind::MaxPool => "pool",
            LayerKind::Dense => "fc",
            LayerKind::AvgPool => "avgpool",
        };
        write!(f, "{prefix}{}", self.index)
    }
}

/// Why a spec cannot describe a runnable network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecError {
    NoLayers,
    TooManyLayers,
    BadInput,
    /// A layer parameter is zero or out of range.
    BadParameter {
        layer: usize,
    },
    /// Input or output channels not divisible by the group count.
    GroupsDoNotDivide {
        layer: usize,
    },
    /// The kernel does not fit in the (padded) input.
    KernelTooLarge {
        layer: usize,
    },
    /// Convolution, LRN or pooling after a fully connected layer.
    SpatialAfterDense {
        layer: usize,
    },
    /// The network must end in a fully connected classifier.
    LastLayerNotDense,
}

impl core::error::Error for SpecError {}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::NoLayers => write!(f, "the spec has no layers"),
            SpecError::TooManyLayers => write!(f, "the spec has more than {MAX_LAYERS} layers"),
            SpecError::BadInput => {
                write!(
                    f,
                    "input shape must be 1..={MAX_INPUT_CHANNELS} channels, non-zero size, at most {MAX_TENSOR_LEN} values, positive std"
                )
            }
            SpecError::BadParameter { layer } => write!(f, "layer {layer}: a parameter is zero or out of range"),
            SpecError::GroupsDoNotDivide { layer } => {
                write!(f, "layer {layer}: channels are not divisible by groups")
            }
            SpecError::KernelTooLarge { layer } => write!(f, "layer {layer}: kernel larger than its input"),
            SpecError::SpatialAfterDense { layer } => {
                write!(f, "layer {layer}: spatial layer after a fully connected one")
            }
            SpecError::LastLayerNotDense => write!(f, "the last layer must be fully connected"),
        }
    }
}

/// A whole network: input, normalisation and layer sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub input: Shape,
    pub normalize: Normalize,
    /// The shorter side a photo is scaled to before its centre is cut out to
    /// the input size (torchvision's `Resize(256)` then `CenterCrop(224)`);
    /// 0 means 256/227 of the input, the paper's proportion.
    #[serde(default)]
    pub resize: u32,
    pub layers: Vec<Layer, MAX_LAYERS>,
}

/// One layer with the shapes around it, as yielded by [`ModelSpec::walk`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerInfo {
    pub index: usize,
    pub name: LayerName,
    pub layer: Layer,
    pub input: Shape,
    pub output: Shape,
}

impl LayerInfo {
    /// Weights plus biases.
    pub fn params(&self) -> u64 {
        match self.layer {
            Layer::Conv(c) => {
                let per_out = (self.input.c / c.groups) as u64 * (c.kernel as u64).pow(2);
                c.out_channels as u64 * (per_out + 1)
            }
            Layer::Dense(d) => d.out_features as u64 * (self.input.len() as u64 + 1),
            Layer::Lrn(_) | Layer::MaxPool(_) | Layer::AvgPool(_) => 0,
        }
    }

    /// Number of weight elements (no biases).
    pub fn weight_len(&self) -> usize {
        match self.layer {
            Layer::Conv(c) => c.out_channels as usize * (self.input.c / c.groups) as usize * (c.kernel as usize).pow(2),
            Layer::Dense(d) => d.out_features as usize * self.input.len(),
            Layer::Lrn(_) | Layer::MaxPool(_) | Layer::AvgPool(_) => 0,
        }
    }

    /// Multiply-accumulates for one image (LRN and pooling count as none).
    pub fn macs(&self) -> u64 {
        match self.layer {
            Layer::Conv(c) => {
                let per_out = (self.input.c / c.groups) as u64 * (c.kernel as u64).pow(2);
                self.output.len() as u64 * per_out
            }
            Layer::Dense(d) => d.out_features as u64 * self.input.len() as u64,
            Layer::Lrn(_) | Layer::MaxPool(_) | Layer::AvgPool(_) => 0,
        }
    }

    /// True for layers that carry weights.
    pub fn has_weights(&self) -> bool {
        matches!(self.layer, Layer::Conv(_) | Layer::Dense(_))
    }
}

/// Output shape of one layer, or why it has none.
pub fn output_shape(index: usize, layer: &Layer, input: Shape) -> Result<Shape, SpecError> {
    let bad = SpecError::BadParameter { layer: index };
    match *layer {
        Layer::Conv(c) => {
            if c.out_channels == 0 || c.kernel == 0 || c.stride == 0 || c.groups == 0 {
                return Err(bad);
            }
            if !input.c.is_multiple_of(c.groups) || !c.out_channels.is_multiple_of(c.groups) {
                return Err(SpecError::GroupsDoNotDivide { layer: index });
            }
            if c.padding >= c.kernel {
                return Err(bad);
            }
            let padded = |n: u32| c.padding.checked_mul(2).and_then(|p| n.checked_add(p)).ok_or(bad);
            let (h, w) = (padded(input.h)?, padded(input.w)?);
            if c.kernel > h || c.kernel > w {
                return Err(SpecError::KernelTooLarge { layer: index });
            }
            Ok(Shape::new(c.out_channels, (h - c.kernel) / c.stride + 1, (w - c.kernel) / c.stride + 1))
        }
        Layer::Lrn(l) => {
            let ok = l.size % 2 == 1 && l.size <= 15 && l.alpha >= 0.0 && l.beta >= 0.0 && l.k > 0.0;
            if ok {
                Ok(input)
            } else {
                Err(bad)
            }
        }
        Layer::MaxPool(p) => {
            if p.kernel == 0 || p.stride == 0 {
                return Err(bad);
            }
            let [top, left, bottom, right] = p.pads;
            let padded = |n: u32, a: u32, b: u32| n as u64 + a as u64 + b as u64;
            if p.kernel as u64 > padded(input.h, top, bottom) || p.kernel as u64 > padded(input.w, left, right) {
                return Err(SpecError::KernelTooLarge { layer: index });
            }
            match (p.out_len(input.h, top, bottom), p.out_len(input.w, left, right)) {
                (Some(h), Some(w)) => Ok(Shape::new(input.c, h, w)),
                _ => Err(bad),
            }
        }
        Layer::Dense(d) => {
            if d.out_features == 0 {
                return Err(bad);
            }
            Ok(Shape::new(d.out_features, 1, 1))
        }
        Layer::AvgPool(p) => {
            // Upsampling (an output larger than the input) repeats cells; a
            // cap keeps the output, and so each count, bounded.
            let fits = |out: u32, inp: u32| out > 0 && out <= inp.max(MAX_AVG_POOL_OUT);
            if fits(p.out_h, input.h) && fits(p.out_w, input.w) {
                Ok(Shape::new(input.c, p.out_h, p.out_w))
            } else {
                Err(bad)
            }
        }
    }
}

impl ModelSpec {
    /// Checks that every layer fits the shape it receives.
    pub fn validate(&self) -> Result<(), SpecError> {
        // Keep every tensor addressable with u32 offsets on any target.
        let addressable = |s: Shape| s.checked_len().is_some_and(|n| n <= MAX_TENSOR_LEN);
        let c = self.input.c as usize;
        if c == 0 || c > MAX_INPUT_CHANNELS || self.input.h == 0 || self.input.w == 0 || !addressable(self.input) {
            return Err(SpecError::BadInput);
        }
        if self.normalize.std[..c].iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            return Err(SpecError::BadInput);
        }
        if self.layers.is_empty() {
            return Err(SpecError::NoLayers);
        }
        let mut shape = self.input;
        let mut seen_dense = false;
        for (i, layer) in self.layers.iter().enumerate() {
            let is_dense = matches!(layer, Layer::Dense(_));
            if seen_dense && !is_dense {
                return Err(SpecError::SpatialAfterDense { layer: i });
            }
            seen_dense |= is_dense;
            let patch = match layer {
                Layer::Conv(c) => {
                    ((shape.c / c.groups.max(1)) as usize).saturating_mul((c.kernel as usize).saturating_pow(2))
                }
                Layer::Dense(_) => shape.len(),
                // An average pool's window is at most its input.
                Layer::AvgPool(_) => shape.h as usize * shape.w as usize,
                Layer::Lrn(_) | Layer::MaxPool(_) => 0,
            };
            if patch > MAX_PATCH_LEN {
                return Err(SpecError::BadParameter { layer: i });
            }
            shape = output_shape(i, layer, shape)?;
            if !addressable(shape) {
                return Err(SpecError::BadParameter { layer: i });
            }
        }
        if !seen_dense || !matches!(self.layers.last(), Some(Layer::Dense(_))) {
            return Err(SpecError::LastLayerNotDense);
        }
        Ok(())
    }

    /// Iterates layers with their names and shapes. Call [`validate`] first:
    /// on an invalid spec the walk stops at the first bad layer.
    ///
    /// [`validate`]: ModelSpec::validate
    pub fn walk(&self) -> impl Iterator<Item = LayerInfo> + '_ {
        let mut shape = Some(self.input);
        let (mut convs, mut lrns, mut pools, mut denses, mut avgs) = (0, 0, 0, 0, 0);
        self.layers.iter().enumerate().map_while(move |(index, layer)| {
            let input = shape?;
            let output = output_shape(index, layer, input).ok()?;
            shape = Some(output);
            let name = match layer {
                Layer::Conv(_) => {
                    convs += 1;
                    LayerName { kind: LayerKind::Conv, index: convs }
                }
                Layer::Lrn(_) => {
                    lrns += 1;
                    LayerName { kind: LayerKind::Lrn, index: lrns }
                }
                Layer::MaxPool(_) => {
                    pools += 1;
                    LayerName { kind: LayerKind::MaxPool, index: pools }
                }
                Layer::Dense(_) => {
                    denses += 1;
                    LayerName { kind: LayerKind::Dense, index: convs + denses }
                }
                Layer::AvgPool(_) => {
                    avgs += 1;
                    LayerName { kind: LayerKind::AvgPool, index: avgs }
                }
            };
            Some(LayerInfo { index, name, layer: *layer, input, output })
        })
    }

    /// Shape of the final layer's output (the logits).
    pub fn output(&self) -> Shape {
        self.walk().last().map(|l| l.output).unwrap_or(self.input)
    }

    /// Number of classes (the last layer's width).
    pub fn classes(&self) -> u32 {
        self.output().len() as u32
    }

    /// The shorter side a variable-size image is scaled to before cropping.
    pub fn resize_shorter_side(&self) -> u32 {
        match self.resize {
            0 => (self.input.h.max(self.input.w) * 256).div_ceil(227),
            side => side,
        }
    }

    pub fn param_count(&self) -> u64 {
        self.walk().map(|l| l.params()).sum()
    }

    pub fn macs(&self) -> u64 {
        self.walk().map(|l| l.macs()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_specs_are_refused() {
        let mut cfg = AlexNetConfig::small(Shape::new(1, 64, 64), 10);
        cfg.conv_channels[1] = 3; // not divisible by 2 groups
        assert_eq!(cfg.build(), Err(SpecError::GroupsDoNotDivide { layer: 3 }));
        let tiny = AlexNetConfig::paper();
        let mut tiny = tiny;
        tiny.input = Shape::new(3, 20, 20);
        assert!(matches!(tiny.build(), Err(SpecError::KernelTooLarge { .. })));
        let mut spec = AlexNetConfig::paper().build().unwrap();
        spec.layers.pop();
        spec.layers.push(Layer::MaxPool(PoolSpec::new(1, 1))).unwrap();
        assert_eq!(spec.validate(), Err(SpecError::SpatialAfterDense { layer: 12 }));
    }

    #[test]
    fn padded_pooling_shapes_follow_pytorch() {
        let shape = |p: PoolSpec, n: u32| output_shape(0, &Layer::MaxPool(p), Shape::new(1, n, n));
        let pool = |k, s, pads| PoolSpec { kernel: k, stride: s, pads };
        // 3x3/2 on 13: 6 unpadded, and with the BVLC pool5's [0, 0, 1, 1].
        assert_eq!(shape(pool(3, 2, [0; 4]), 13), Ok(Shape::new(1, 6, 6)));
        assert_eq!(shape(pool(3, 2, [0, 0, 1, 1]), 13), Ok(Shape::new(1, 6, 6)));
        // 3x3/2 padded by 1 on 4: PyTorch's MaxPool2d(3, 2, 1) gives 2.
        assert_eq!(shape(pool(3, 2, [1; 4]), 4), Ok(Shape::new(1, 2, 2)));
        // Padding as wide as the window, or a last window wholly in the
        // padding, is refused.
        assert_eq!(shape(pool(2, 2, [2, 0, 0, 0]), 6), Err(SpecError::BadParameter { layer: 0 }));
        assert_eq!(shape(pool(1, 3, [0, 0, 2, 2]), 3), Err(SpecError::BadParameter { layer: 0 }));
        assert_eq!(shape(pool(1, 3, [0, 0, 2, 2]), 4), Ok(Shape::new(1, 2, 2)));
        // Ceil mode: 3x3/2 on 6 takes one more row and column (3 outputs,
        // PyTorch's ceil_mode=True), on 13 none; 2x2/2 on 5 padded by 1
        // would start a window in the padding, so it takes none either.
        let p = PoolSpec::new(3, 2);
        assert_eq!((p.ceil_pads(6, 0, 0), p.ceil_pads(13, 0, 0)), (Some(1), Some(0)));
        assert_eq!(shape(pool(3, 2, [0, 0, 1, 1]), 6), Ok(Shape::new(1, 3, 3)));
        // 3x3/2 padded by 1 on 6: 4 outputs with ceil_mode=True, 3 without.
        assert_eq!(p.ceil_pads(6, 1, 1), Some(2));
        assert_eq!(shape(pool(3, 2, [1, 1, 2, 2]), 6), Ok(Shape::new(1, 4, 4)));
        assert_eq!(shape(pool(3, 2, [1; 4]), 6), Ok(Shape::new(1, 3, 3)));
        assert_eq!(PoolSpec::new(2, 2).ceil_pads(5, 1, 1), Some(1));
    }
}
