//! The AlexNet of a `shared` spec as dfdx tensors: one parameter struct with
//! runtime shapes, and a forward pass generic over device and tape.
//!
//! Layouts match `shared::FloatModel` and PyTorch (OIHW conv weights,
//! `[out][in]` dense weights), so checkpoints convert without reordering.

use super::checkpoint::weight_shape;
use super::device::TrainDevice;
use super::epilogue::Epilogue;
use super::layer_clock::Lap;
use super::max_pool::max_pool_by_ops;
use super::tensor::{Image4, Matrix};
use dfdx::prelude::*;
use dfdx::tensor_ops::TryConv2D;
use shared::float::{FloatModel, LayerParams};
use shared::layers::pool::avg_pool_matrix;
use shared::spec::{Layer, ModelSpec, Shape};

/// Trainable tensors of one layer (empty for LRN and pooling).
pub struct Params<D: TrainDevice> {
    /// OIHW for convolutions, `[out][in]` for dense layers.
    pub weight: Tensor<(usize, usize, usize, usize), f32, D>,
    pub bias: Tensor<(usize,), f32, D>,
}

pub struct AlexNet<D: TrainDevice> {
    pub spec: ModelSpec,
    /// One entry per spec layer; `None` for layers without parameters.
    pub params: Vec<Option<Params<D>>>,
}

/// Per-step randomness the forward pass needs in training mode.
pub struct TrainMode<'a> {
    /// Keep-masks for dropout, drawn by the caller's seeded generator so a
    /// resumed run draws the same masks.
    pub dropout: &'a mut dyn FnMut(usize) -> Vec<f32>,
}

impl<D: TrainDevice> AlexNet<D> {
    /// Moves float weights (from `shared` or a checkpoint) onto `device`.
    pub fn from_float(model: &FloatModel, device: &D) -> Self {
        let spec = model.spec.clone();
        let mut params = Vec::new();
        for (info, p) in spec.walk().zip(&model.layers) {
            // Dense weights as [out, in, 1, 1]: one 4-D type for both kinds.
            let dims = |s: Vec<usize>| (s[0], s[1], s.get(2).copied().unwrap_or(1), s.get(3).copied().unwrap_or(1));
            params.push(weight_shape(&info).map(dims).map(|shape| Params {
                weight: device.tensor_from_vec(p.weights.clone(), shape),
                bias: device.tensor_from_vec(p.bias.clone(), (shape.0,)),
            }));
        }
        AlexNet { spec, params }
    }

    /// Copies the weights back to host memory.
    pub fn to_float(&self) -> FloatModel {
        let layers = self
            .params
            .iter()
            .map(|p| match p {
                Some(p) => LayerParams { weights: p.weight.as_vec(), bias: p.bias.as_vec() },
                None => LayerParams::default(),
            })
            .collect();
        FloatModel { spec: self.spec.clone(), layers }
    }

    /// Every trainable tensor with its checkpoint name (`conv1.weight`, ...).
    pub fn named_params(&self) -> Vec<(String, &Params<D>)> {
        self.spec
            .walk()
            .zip(&self.params)
            .filter_map(|(info, p)| p.as_ref().map(|p| (info.name.to_string(), p)))
            .collect()
    }

    pub fn named_params_mut(&mut self) -> Vec<(String, &mut Params<D>)> {
        self.spec
            .walk()
            .zip(self.params.iter_mut())
            .filter_map(|(info, p)| p.as_mut().map(|p| (info.name.to_string(), p)))
            .collect()
    }

    /// Logits for a batch of normalized images (B x C x H x W). With `train`
    /// set, dropout follows the spec; otherwise the pass is deterministic.
    pub fn forward<T>(&self, x: Image4<D, T>, train: Option<TrainMode<'_>>) -> Matrix<D, T>
    where
        T: Tape<f32, D> + Merge<T> + Merge<NoneTape>,
    {
        self.forward_observed(x, train, None)
    }

    /// [`forward`](Self::forward), handing `observe(layer, values)` each
    /// layer's output for the whole batch (image-major), e.g. to calibrate.
    pub fn forward_observed<T>(
        &self,
        x: Image4<D, T>,
        mut train: Option<TrainMode<'_>>,
        mut observe: Option<&mut dyn FnMut(usize, Vec<f32>)>,
    ) -> Matrix<D, T>
    where
        T: Tape<f32, D> + Merge<T> + Merge<NoneTape>,
    {
        let batch = x.shape().0;
        let mut lap = Lap::start();
        let x = match lap.as_mut() {
            Some(lap) => lap.boundary(0, x),
            None => x,
        };
        let mut spatial = Some(x);
        let mut flat: Option<Matrix<D, T>> = None;
        // Layers run inside the epilogue of the convolution before them.
        // The `expect`s below cannot fail: every spec here passed
        // `ModelSpec::validate` (a checkpoint's when it was loaded), which
        // puts spatial layers first and ends with a dense one, and
        // `AlexNet::from_float` gives each conv and dense layer parameters.
        let mut fused = 0;
        for (i, layer) in self.spec.layers.iter().enumerate() {
            if fused > 0 {
                fused -= 1;
                continue;
            }
            match *layer {
                Layer::Conv(c) => {
                    let p = self.params[i].as_ref().expect("conv has params");
                    let x = spatial.take().expect("conv after a spatial layer");
                    let y = (x, p.weight.clone()).conv2d(c.stride as usize, c.padding as usize, 1, c.groups as usize);
                    // Observers see every layer's output: no fusing then.
                    let e = if observe.is_some() {
                        Epilogue { relu: c.relu, lrn: None, pool: None }
                    } else {
                        epilogue(c.relu, &self.spec.layers[i + 1..])
                    };
                    fused = e.lrn.is_some() as usize + e.pool.is_some() as usize;
                    spatial = Some(D::epilogue(y, &p.bias, &e));
                }
                Layer::Lrn(l) => {
                    let x = spatial.take().expect("lrn after a spatial layer");
                    spatial = Some(D::lrn(x, &l));
                }
                Layer::MaxPool(p) => {
                    let x = spatial.take().expect("pool after a spatial layer");
                    spatial = Some(max_pool_by_ops(x, &p));
                }
                Layer::AvgPool(a) => {
                    // One product with the window matrix: any adaptive
                    // layout (overlapping, unequal, repeated windows) and its
                    // gradient, where dfdx pools with a single kernel size.
                    let x = spatial.take().expect("pool after a spatial layer");
                    let (b, c, h, w) = *x.shape();
                    let (oh, ow) = (a.out_h as usize, a.out_w as usize);
                    let mut m = vec![0.0f32; h * w * oh * ow];
                    avg_pool_matrix(&a, Shape::new(c as u32, h as u32, w as u32), &mut m);
                    let m = x.device().tensor_from_vec(m, (h * w, oh * ow));
                    let y = x.reshape_like(&(b, c, h * w)).matmul(m);
                    spatial = Some(y.reshape_like(&(b, c, oh, ow)));
                }
                Layer::Dense(d) => {
                    let p = self.params[i].as_ref().expect("dense has params");
                    let x = match (flat.take(), spatial.take()) {
                        (Some(x), _) => x,
                        (None, Some(x)) => {
                            let (b, c, h, w) = *x.shape();
                            x.reshape_like(&(b, c * h * w))
                        }
                        (None, None) => unreachable!("dense needs an input"),
                    };
                    let (out, inp) = (p.weight.shape().0, p.weight.shape().1);
                    let w = p.weight.retaped::<T>().reshape_like(&(out, inp)).permute::<_, Axes2<1, 0>>();
                    let y = x.matmul(w).reshape_like(&(batch, out, 1));
                    let y = D::bias_act(y, &p.bias, d.relu).reshape_like(&(batch, out));
                    flat = Some(match (&mut train, d.dropout) {
                        (Some(mode), true) => {
                            let mask = (mode.dropout)(batch * out);
                            let mask = y.device().tensor_from_vec(mask, (batch, out));
                            y * mask
                        }
                        _ => y,
                    });
                }
            }
            if let Some(lap) = lap.as_mut() {
                spatial = spatial.map(|x| lap.boundary(i + 1 + fused, x));
                flat = flat.map(|x| lap.boundary(i + 1 + fused, x));
            }
            if let Some(observe) = observe.as_mut() {
                let values = match (&spatial, &flat) {
                    (Some(x), _) => x.as_vec(),
                    (None, Some(x)) => x.as_vec(),
                    (None, None) => unreachable!("every layer leaves an output"),
                };
                observe(i, values);
            }
        }
        flat.expect("the spec ends with a dense layer")
    }
}

/// The layers a convolution's epilogue takes on from those after it: an
/// LRN then a max pooling, or a max pooling (CaffeNet's order then runs its
/// LRN on its own), or neither.
fn epilogue(relu: bool, after: &[Layer]) -> Epilogue {
    let pool = |l: Option<&Layer>| match l {
        Some(Layer::MaxPool(p)) => Some(*p),
        _ => None,
    };
    match after.first() {
        Some(Layer::Lrn(l)) => match pool(after.get(1)) {
            Some(p) => Epilogue { relu, lrn: Some(*l), pool: Some(p) },
            None => Epilogue { relu, lrn: None, pool: None },
        },
        first => Epilogue { relu, lrn: None, pool: pool(first) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::spec::{AlexNetConfig, Shape};

    /// The dfdx network in evaluation mode computes what the plain `shared`
    /// reference computes from the same weights: layouts, groups, LRN window,
    /// pooling and flattening order all agree.
    #[test]
    fn forward_matches_the_shared_reference() {
        let dev = Cpu::default();
        // torchvision's pattern at 256x256 pools 7x7 to 6x6 (overlapping
        // windows) and at 96x96 2x2 to 6x6 (repeated cells).
        let torchvision = |side| {
            let mut cfg = AlexNetConfig::torchvision().with_width(1.0 / 16.0);
            (cfg.input, cfg.classes) = (Shape::new(3, side, side), 7);
            cfg.fc_features = [64, 64];
            cfg
        };
        // CaffeNet's order (pool, then LRN) with ceil-mode pools that take
        // an extra row and column (36 -> 18 -> 9).
        let mut caffenet = AlexNetConfig::small(Shape::new(3, 36, 36), 7).with_width(0.125);
        (caffenet.pool_before_lrn, caffenet.ceil_mode) = (true, true);
        let configs = [
            AlexNetConfig::small(Shape::new(1, 32, 32), 7).with_width(0.25),
            AlexNetConfig::small(Shape::new(3, 48, 40), 7).with_width(0.125),
            torchvision(256),
            torchvision(96),
            caffenet,
        ];
        let mut specs: Vec<ModelSpec> = configs.iter().map(|cfg| cfg.build().unwrap()).collect();
        assert!(specs[4].layers.iter().any(|l| matches!(l, Layer::MaxPool(p) if p.pads == [0, 0, 1, 1])));
        // Every pool padded by 1 all round, PyTorch's MaxPool2d(3, 2, 1):
        // the standalone pool of a forward that observes takes it too.
        let mut padded = specs[0].clone();
        for layer in padded.layers.iter_mut() {
            if let Layer::MaxPool(p) = layer {
                p.pads = [1; 4];
            }
        }
        padded.validate().unwrap();
        specs.push(padded);
        for spec in specs {
            let input = spec.input;
            let float = FloatModel::random(&spec, 11);
            let net = AlexNet::from_float(&float, &dev);
            let images = shared::synthetic::images(&spec, 3, 4);
            let batch: Vec<f32> = images.iter().flat_map(|im| float.normalize(im)).collect();
            let (c, h, w) = (input.c as usize, input.h as usize, input.w as usize);
            let x = dev.tensor_from_vec(batch, (images.len(), c, h, w));
            let logits = net.forward(x.clone(), None).as_vec();
            let mut observed = 0;
            let unfused = net.forward_observed(x, None, Some(&mut |_, _| observed += 1)).as_vec();
            assert_eq!(observed, spec.layers.len());
            for (i, im) in images.iter().enumerate() {
                let want = float.forward(im);
                let got = &logits[i * 7..][..7];
                let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                for (g, w) in got.iter().chain(&unfused[i * 7..][..7]).zip(want.iter().cycle()) {
                    assert!((g - w).abs() <= 1e-4 * scale, "{input}: {got:?} vs {want:?}");
                }
            }
        }
    }
}
