//! The AlexNet family as one configuration: the paper's network, torchvision's
//! one-GPU variant, Caffe's reference CaffeNet and the small network that
//! trains in minutes, each a set of sizes for the same layer pattern, built
//! into a [`ModelSpec`].

use super::{AvgPoolSpec, ConvSpec, DenseSpec, Layer, LrnSpec, ModelSpec, Normalize, PoolSpec, Shape, SpecError};
use heapless::Vec;

/// The AlexNet layer pattern with its sizes as parameters: five convolutions
/// (LRN and pooling after the first two, pooling after the fifth, groups of 2
/// on conv2, conv4 and conv5) then three fully connected layers with dropout on
/// the first two. Scaled variants change sizes, never the pattern.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlexNetConfig {
    pub input: Shape,
    pub classes: u32,
    pub conv_channels: [u32; 5],
    pub conv1_kernel: u32,
    pub conv1_stride: u32,
    pub conv1_padding: u32,
    pub fc_features: [u32; 2],
    /// LRN after conv1 and conv2 (the paper) or none (torchvision).
    pub lrn: Option<LrnSpec>,
    /// Two channel groups on conv2, conv4 and conv5 (the paper's two GPUs)
    /// or one (torchvision).
    pub grouped: bool,
    /// Adaptive average pool after pool3 (torchvision's 6x6); left out of the
    /// spec where the map already has that size.
    pub avg_pool: Option<(u32, u32)>,
    /// Pooling before the LRN after conv1 and conv2 (Caffe's CaffeNet)
    /// instead of after it (the paper).
    pub pool_before_lrn: bool,
    /// Ceil-mode pooling (Caffe's): a last window that hangs over the map's
    /// edge is kept, as padding that never wins.
    pub ceil_mode: bool,
    pub normalize: Normalize,
    /// See [`ModelSpec::resize`].
    pub resize: u32,
}

impl AlexNetConfig {
    /// Krizhevsky et al. 2012, one-tower view: 3x227x227 input, 1000 classes,
    /// 60,965,224 parameters.
    pub const fn paper() -> Self {
        AlexNetConfig {
            input: Shape::new(3, 227, 227),
            classes: 1000,
            conv_channels: [96, 256, 384, 384, 256],
            conv1_kernel: 11,
            conv1_stride: 4,
            conv1_padding: 0,
            fc_features: [4096, 4096],
            lrn: Some(LrnSpec::PAPER),
            grouped: true,
            avg_pool: None,
            pool_before_lrn: false,
            ceil_mode: false,
            normalize: Normalize::IMAGENET,
            resize: 0,
        }
    }

    /// torchvision's `alexnet`, the one-GPU variant ("One weird trick",
    /// Krizhevsky 2014): 3x224x224, no LRN, no groups, conv1 padded by 2, an
    /// adaptive 6x6 average pool, 61,100,840 parameters.
    pub const fn torchvision() -> Self {
        AlexNetConfig {
            input: Shape::new(3, 224, 224),
            classes: 1000,
            conv_channels: [64, 192, 384, 256, 256],
            conv1_kernel: 11,
            conv1_stride: 4,
            conv1_padding: 2,
            fc_features: [4096, 4096],
            lrn: None,
            grouped: false,
            avg_pool: Some((6, 6)),
            pool_before_lrn: false,
            ceil_mode: false,
            normalize: Normalize::IMAGENET,
            resize: 256,
        }
    }

    /// Caffe's `bvlc_reference_caffenet` (the model zoo's `caffenet`): the
    /// paper's sizes with pooling before each LRN, Caffe's LRN (k = 1,
    /// alpha 1e-4 over the window's 5 channels) and ceil-mode pooling, which
    /// at 227x227 leaves the paper's maps. 60,965,224 parameters.
    pub const fn caffenet() -> Self {
        let mut cfg = Self::paper();
        cfg.lrn = Some(LrnSpec { size: 5, alpha: 1e-4 / 5.0, beta: 0.75, k: 1.0 });
        cfg.pool_before_lrn = true;
        cfg.ceil_mode = true;
        cfg
    }

    /// The scaled network that trains in minutes on a CPU: conv 64@5x5 (stride
    /// 2 from 48 px up, else 1), 128@5x5 g2, 192, 192 g2, 128 g2, FC 1024-1024.
    pub const fn small(input: Shape, classes: u32) -> Self {
        AlexNetConfig {
            input,
            classes,
            conv_channels: [64, 128, 192, 192, 128],
            conv1_kernel: 5,
            conv1_stride: if input.h >= 48 { 2 } else { 1 },
            conv1_padding: 2,
            fc_features: [1024, 1024],
            lrn: Some(LrnSpec::PAPER),
            grouped: true,
            avg_pool: None,
            pool_before_lrn: false,
            ceil_mode: false,
            normalize: Normalize::IMAGENET,
            resize: 0,
        }
    }

    pub const fn with_normalize(mut self, normalize: Normalize) -> Self {
        self.normalize = normalize;
        self
    }

    /// Multiplies every conv and hidden FC width by `factor`, keeping conv
    /// widths even (the groups of 2) and at least 2.
    pub fn with_width(mut self, factor: f32) -> Self {
        let scale = |n: u32, multiple: u32| -> u32 {
            let v = libm::roundf(n as f32 * factor / multiple as f32) as u32 * multiple;
            v.max(multiple)
        };
        for c in self.conv_channels.iter_mut() {
            *c = scale(*c, 2);
        }
        for f in self.fc_features.iter_mut() {
            *f = scale(*f, 1);
        }
        self
    }

    pub fn build(&self) -> Result<ModelSpec, SpecError> {
        let g = if self.grouped { 2 } else { 1 };
        let conv = |out_channels, kernel, stride, padding, groups| {
            Layer::Conv(ConvSpec { out_channels, kernel, stride, padding, groups, relu: true })
        };
        let [c1, c2, c3, c4, c5] = self.conv_channels;
        let [f6, f7] = self.fc_features;
        let mut spec =
            ModelSpec { input: self.input, normalize: self.normalize, resize: self.resize, layers: Vec::new() };
        // Pushes a layer, checking it fits the map so far (a ceil-mode pool
        // needs that map).
        let mut shape = self.input;
        let mut push = |spec: &mut ModelSpec, layer: Layer| {
            let index = spec.layers.len();
            let layer = match layer {
                Layer::MaxPool(mut p) if self.ceil_mode => {
                    let bad = SpecError::BadParameter { layer: index };
                    p.pads[2] = p.ceil_pads(shape.h, 0, 0).ok_or(bad)?;
                    p.pads[3] = p.ceil_pads(shape.w, 0, 0).ok_or(bad)?;
                    Layer::MaxPool(p)
                }
                layer => layer,
            };
            shape = super::output_shape(index, &layer, shape)?;
            spec.layers.push(layer).map_err(|_| SpecError::TooManyLayers)
        };
        let pool = Layer::MaxPool(PoolSpec::new(3, 2));
        let lrn = self.lrn.map(Layer::Lrn);
        let (first, second) = if self.pool_before_lrn { (Some(pool), lrn) } else { (lrn, Some(pool)) };
        push(&mut spec, conv(c1, self.conv1_kernel, self.conv1_stride, self.conv1_padding, 1))?;
        for layer in [first, second].into_iter().flatten() {
            push(&mut spec, layer)?;
        }
        push(&mut spec, conv(c2, 5, 1, 2, g))?;
        for layer in [first, second].into_iter().flatten() {
            push(&mut spec, layer)?;
        }
        push(&mut spec, conv(c3, 3, 1, 1, 1))?;
        push(&mut spec, conv(c4, 3, 1, 1, g))?;
        push(&mut spec, conv(c5, 3, 1, 1, g))?;
        push(&mut spec, pool)?;
        if let Some((out_h, out_w)) = self.avg_pool {
            // The map pool3 leaves, to leave out an identity average pool.
            let features = spec.walk().last().map(|l| l.output);
            if features.is_some_and(|s| (s.h, s.w) != (out_h, out_w)) {
                spec.layers.push(Layer::AvgPool(AvgPoolSpec { out_h, out_w })).map_err(|_| SpecError::TooManyLayers)?;
            }
        }
        for (out_features, relu, dropout) in [(f6, true, true), (f7, true, true), (self.classes, false, false)] {
            spec.layers
                .push(Layer::Dense(DenseSpec { out_features, relu, dropout }))
                .map_err(|_| SpecError::TooManyLayers)?;
        }
        spec.validate()?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::LayerKind;

    #[test]
    fn paper_model_has_the_papers_parameter_count() {
        let spec = AlexNetConfig::paper().build().unwrap();
        assert_eq!(spec.param_count(), 60_965_224);
    }

    #[test]
    fn caffenet_pools_before_its_lrns_in_ceil_mode() {
        let spec = AlexNetConfig::caffenet().build().unwrap();
        assert_eq!(spec.param_count(), 60_965_224);
        let kinds: std::vec::Vec<LayerKind> = spec.walk().take(6).map(|l| l.name.kind).collect();
        let (conv, pool, lrn) = (LayerKind::Conv, LayerKind::MaxPool, LayerKind::Lrn);
        assert_eq!(kinds, [conv, pool, lrn, conv, pool, lrn]);
        // At 227x227 ceil mode changes no map; at 224x224 pool1 takes one
        // more row and column (54 -> 27, where floor mode gives 26).
        assert_eq!(spec.output(), AlexNetConfig::paper().build().unwrap().output());
        assert!(spec.layers.iter().all(|l| !matches!(l, Layer::MaxPool(p) if p.is_padded())));
        let mut cfg = AlexNetConfig::caffenet();
        cfg.input = Shape::new(3, 224, 224);
        let spec = cfg.build().unwrap();
        let pool1 = spec.walk().nth(1).unwrap();
        assert_eq!((pool1.input, pool1.output), (Shape::new(96, 54, 54), Shape::new(96, 27, 27)));
        assert_eq!(pool1.layer, Layer::MaxPool(PoolSpec { kernel: 3, stride: 2, pads: [0, 0, 1, 1] }));
    }

    #[test]
    fn torchvision_model_has_torchvisions_parameter_count_and_no_identity_pool() {
        let spec = AlexNetConfig::torchvision().build().unwrap();
        assert_eq!(spec.param_count(), 61_100_840);
        // At 224x224 pool3 leaves 6x6: the adaptive pool is an identity.
        assert!(spec.layers.iter().all(|l| !matches!(l, Layer::AvgPool(_) | Layer::Lrn(_))));
        assert_eq!(spec.walk().nth(7).map(|l| l.output), Some(Shape::new(256, 6, 6)));
        // At 256x256 it is 7x7, averaged to 6x6; the classifier keeps its size.
        let mut cfg = AlexNetConfig::torchvision();
        cfg.input = Shape::new(3, 256, 256);
        let spec = cfg.build().unwrap();
        let pool = spec.walk().find(|l| matches!(l.layer, Layer::AvgPool(_))).unwrap();
        assert_eq!((pool.input, pool.output), (Shape::new(256, 7, 7), Shape::new(256, 6, 6)));
        assert_eq!(spec.param_count(), 61_100_840);
    }

    #[test]
    fn paper_model_shapes_match_the_paper() {
        let spec = AlexNetConfig::paper().build().unwrap();
        let outs: std::vec::Vec<(std::string::String, Shape)> =
            spec.walk().map(|l| (std::format!("{}", l.name), l.output)).collect();
        let expect = [
            ("conv1", Shape::new(96, 55, 55)),
            ("lrn1", Shape::new(96, 55, 55)),
            ("pool1", Shape::new(96, 27, 27)),
            ("conv2", Shape::new(256, 27, 27)),
            ("lrn2", Shape::new(256, 27, 27)),
            ("pool2", Shape::new(256, 13, 13)),
            ("conv3", Shape::new(384, 13, 13)),
            ("conv4", Shape::new(384, 13, 13)),
            ("conv5", Shape::new(256, 13, 13)),
            ("pool3", Shape::new(256, 6, 6)),
            ("fc6", Shape::new(4096, 1, 1)),
            ("fc7", Shape::new(4096, 1, 1)),
            ("fc8", Shape::new(1000, 1, 1)),
        ];
        assert_eq!(outs.len(), expect.len());
        for ((name, shape), (en, es)) in outs.iter().zip(expect) {
            assert_eq!((name.as_str(), *shape), (en, es));
        }
    }

    #[test]
    fn paper_model_needs_about_072_gmacs_mostly_parameters_in_fc() {
        let spec = AlexNetConfig::paper().build().unwrap();
        let macs = spec.macs();
        assert_eq!(macs, 724_406_816);
        let total = spec.param_count() as f64;
        std::println!("layer   params      share   MACs");
        let mut fc = 0;
        for l in spec.walk().filter(|l| l.has_weights()) {
            std::println!(
                "{:<6} {:>10} {:>6.2}% {:>12}",
                std::format!("{}", l.name),
                l.params(),
                100.0 * l.params() as f64 / total,
                l.macs()
            );
            if l.name.kind == LayerKind::Dense {
                fc += l.params();
            }
        }
        // The paper: most parameters sit in the fully connected layers.
        assert!(fc as f64 / total > 0.9);
    }

    #[test]
    fn small_variant_keeps_the_pattern() {
        let spec = AlexNetConfig::small(Shape::new(1, 64, 64), 10).build().unwrap();
        let shapes: std::vec::Vec<Shape> = spec.walk().map(|l| l.output).collect();
        assert_eq!(shapes[0], Shape::new(64, 32, 32));
        assert_eq!(shapes[2], Shape::new(64, 15, 15));
        assert_eq!(shapes[5], Shape::new(128, 7, 7));
        assert_eq!(shapes[9], Shape::new(128, 3, 3));
        assert_eq!(spec.classes(), 10);
        // 32x32 input uses stride 1 and ends at the same 3x3 map.
        let s32 = AlexNetConfig::small(Shape::new(1, 32, 32), 10).build().unwrap();
        assert_eq!(s32.walk().nth(9).unwrap().output, Shape::new(128, 3, 3));
        assert_eq!(s32.param_count(), 2_842_890);
    }

    #[test]
    fn width_scaling_keeps_groups_even() {
        let cfg = AlexNetConfig::paper().with_width(0.3);
        assert!(cfg.conv_channels.iter().all(|c| c % 2 == 0 && *c >= 2));
        assert_eq!(cfg.fc_features, [1229, 1229]);
        cfg.build().unwrap();
    }
}
