//! 2-D convolution with stride, symmetric zero padding and channel groups.
//! f32 weights are OIHW with I = input channels per group; int8 weights are
//! packed for the GEMM kernels (see [`super::packed`]). The int8 form follows
//! TFLite's `integer_ops/conv.h` (input offset, per-channel requantization,
//! activation clamp).

use super::packed::{PackedLayout, PackedWeights};
use crate::quant::{output_i8, Requant};
use crate::spec::{ConvSpec, Layer, LayerInfo, Shape};

/// Everything about a convolution's shapes, derived once from the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub input: Shape,
    pub output: Shape,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub groups: usize,
}

impl ConvGeometry {
    /// `output` must be the spec's output shape for `input` (see
    /// [`crate::spec::output_shape`]).
    pub fn new(input: Shape, output: Shape, spec: &ConvSpec) -> Self {
        ConvGeometry {
            input,
            output,
            kernel: spec.kernel as usize,
            stride: spec.stride as usize,
            padding: spec.padding as usize,
            groups: spec.groups as usize,
        }
    }

    /// Geometry and ReLU flag of a convolution or dense layer; `None` for a
    /// layer without weights.
    pub fn of_weighted(info: &LayerInfo) -> Option<(Self, bool)> {
        match info.layer {
            Layer::Conv(c) => Some((ConvGeometry::new(info.input, info.output, &c), c.relu)),
            Layer::Dense(d) => Some((ConvGeometry::dense(info.input.len(), info.output.len()), d.relu)),
            Layer::Lrn(_) | Layer::MaxPool(_) | Layer::AvgPool(_) => None,
        }
    }

    /// How this layer's int8 weights are packed for the kernels.
    pub fn packed_layout(&self) -> PackedLayout {
        PackedLayout { groups: self.groups, rows: self.out_per_group(), depth: self.patch_len() }
    }

    /// A fully connected layer is a 1x1 convolution over a 1x1 map.
    pub fn dense(in_features: usize, out_features: usize) -> Self {
        ConvGeometry {
            input: Shape::new(in_features as u32, 1, 1),
            output: Shape::new(out_features as u32, 1, 1),
            kernel: 1,
            stride: 1,
            padding: 0,
            groups: 1,
        }
    }

    pub fn in_per_group(&self) -> usize {
        self.input.c as usize / self.groups
    }

    pub fn out_per_group(&self) -> usize {
        self.output.c as usize / self.groups
    }

    /// Inputs one output value sums over.
    pub fn patch_len(&self) -> usize {
        self.in_per_group() * self.kernel * self.kernel
    }

    pub fn weight_len(&self) -> usize {
        self.output.c as usize * self.patch_len()
    }

    /// Input coordinate for output coordinate `o` and kernel tap `k`, or
    /// `None` inside the zero padding.
    #[inline(always)]
    pub fn input_coord(&self, o: usize, k: usize, size: u32) -> Option<usize> {
        (o * self.stride + k).checked_sub(self.padding).filter(|i| *i < size as usize)
    }

    /// Calls `tap(input_index, patch_index)` for each tap of output pixel
    /// (`oy`, `ox`) of a channel in `group` that falls inside the input
    /// (padding taps are zero and skipped), in the references' summation
    /// order: input channel, kernel row, kernel column. `patch_index` is
    /// the tap's place in one output channel's weights.
    #[inline(always)]
    pub fn for_each_tap(&self, group: usize, oy: usize, ox: usize, mut tap: impl FnMut(usize, usize)) {
        let (ih, iw, in_g, k) = (self.input.h, self.input.w, self.in_per_group(), self.kernel);
        for ic in 0..in_g {
            let channel = group * in_g + ic;
            for ky in 0..k {
                let Some(iy) = self.input_coord(oy, ky, ih) else { continue };
                for kx in 0..k {
                    let Some(ix) = self.input_coord(ox, kx, iw) else { continue };
                    tap((channel * ih as usize + iy) * iw as usize + ix, (ic * k + ky) * k + kx);
                }
            }
        }
    }
}

/// Plain f32 convolution: `out[o][y][x] = bias[o] + sum w * in`, then ReLU if asked.
pub fn conv2d_f32_ref(g: &ConvGeometry, input: &[f32], weights: &[f32], bias: &[f32], relu: bool, output: &mut [f32]) {
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    let (out_g, patch) = (g.out_per_group(), g.patch_len());
    assert_eq!(input.len(), g.input.len());
    assert_eq!(weights.len(), g.weight_len());
    assert_eq!(bias.len(), g.output.c as usize);
    assert_eq!(output.len(), g.output.len());
    for oc in 0..g.output.c as usize {
        let channel_weights = &weights[oc * patch..(oc + 1) * patch];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = bias[oc];
                g.for_each_tap(oc / out_g, oy, ox, |i, t| acc += channel_weights[t] * input[i]);
                output[(oc * oh + oy) * ow + ox] = if relu { acc.max(0.0) } else { acc };
            }
        }
    }
}

/// The int8 output stage shared by convolution and dense layers: per-channel
/// requantization, output zero point, and a clamp that also does the ReLU.
#[derive(Clone, Copy, Debug)]
pub struct OutputStage<'a> {
    pub output_offset: i32,
    pub act_min: i32,
    pub act_max: i32,
    pub multiplier: &'a [i32],
    pub shift: &'a [i32],
}

impl OutputStage<'_> {
    #[inline(always)]
    pub fn apply(&self, channel: usize, acc: i32) -> i8 {
        let rq = Requant { multiplier: self.multiplier[channel], shift: self.shift[channel] };
        output_i8(acc, rq, self.output_offset, self.act_min, self.act_max)
    }
}

/// Parameters of an int8 convolution, filled once when a model is loaded.
#[derive(Clone, Copy, Debug)]
pub struct ConvI8Params<'a> {
    pub geometry: ConvGeometry,
    /// Minus the input zero point: `x + input_offset` is the centred input.
    pub input_offset: i32,
    pub weights: PackedWeights<'a>,
    pub bias: &'a [i32],
    pub output: OutputStage<'a>,
}

impl ConvI8Params<'_> {
    /// Panics unless every slice has the length the geometry implies.
    pub fn check(&self, input: &[i8], output: &[i8]) {
        let g = &self.geometry;
        let channels = g.output.c as usize;
        assert_eq!(input.len(), g.input.len(), "conv input length");
        assert_eq!(output.len(), g.output.len(), "conv output length");
        assert_eq!(self.weights.layout, g.packed_layout(), "conv weight layout");
        assert_eq!(self.weights.data.len(), self.weights.layout.len(), "conv weight length");
        assert_eq!(self.weights.sums.len(), channels, "conv weight sums length");
        assert_eq!(self.bias.len(), channels, "conv bias length");
        assert_eq!(self.output.multiplier.len(), channels, "conv multiplier length");
        assert_eq!(self.output.shift.len(), channels, "conv shift length");
    }
}

/// Plain int8 convolution; the definition of the bits every fast kernel must
/// reproduce. Padding contributes zero (it is the real value 0).
pub fn conv2d_i8_ref(p: &ConvI8Params, input: &[i8], output: &mut [i8]) {
    p.check(input, output);
    let g = &p.geometry;
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    let out_g = g.out_per_group();
    for oc in 0..g.output.c as usize {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc: i32 = 0;
                g.for_each_tap(oc / out_g, oy, ox, |i, t| {
                    acc += p.weights.at(oc, t) as i32 * (input[i] as i32 + p.input_offset)
                });
                // The spec bounds the patch length so the sum cannot overflow;
                // the bias comes from a file, so its addition wraps.
                output[(oc * oh + oy) * ow + ox] = p.output.apply(oc, acc.wrapping_add(p.bias[oc]));
            }
        }
    }
}
