//! Momentum SGD with weight decay, written out because dfdx's optimizers need
//! compile-time model types. PyTorch's convention, so its recipes transfer:
//! `v = momentum * v + (g + weight_decay * w)`, `w -= lr * v`.
//! As in the paper, decay applies to weights, not biases.

use super::model::{AlexNet, Params, TrainDevice};
use dfdx::prelude::*;

pub struct Sgd<D: TrainDevice> {
    pub momentum: f32,
    pub weight_decay: f32,
    /// Velocity of each parameter tensor, in `named_params` order.
    pub velocity: Vec<Params<D>>,
}

impl<D: TrainDevice> Sgd<D> {
    pub fn new(net: &AlexNet<D>, momentum: f32, weight_decay: f32) -> Self {
        let velocity = net
            .named_params()
            .iter()
            .map(|(_, p)| Params {
                weight: p.weight.device().zeros_like(&p.weight),
                bias: p.bias.device().zeros_like(&p.bias),
            })
            .collect();
        Sgd { momentum, weight_decay, velocity }
    }

    pub fn step(&mut self, net: &mut AlexNet<D>, grads: &Gradients<f32, D>, lr: f32) {
        let (momentum, weight_decay) = (self.momentum, self.weight_decay);
        for ((_, p), v) in net.named_params_mut().into_iter().zip(&mut self.velocity) {
            D::sgd_update(&mut p.weight, &mut v.weight, grads, UpdateRule { momentum, weight_decay, lr });
            D::sgd_update(&mut p.bias, &mut v.bias, grads, UpdateRule { momentum, weight_decay: 0.0, lr });
        }
    }
}

/// The constants of one parameter tensor's update.
#[derive(Clone, Copy)]
pub struct UpdateRule {
    pub momentum: f32,
    pub weight_decay: f32,
    pub lr: f32,
}

/// The update as tensor ops, for any device: three passes over the tensor
/// and a copy of the gradient.
pub fn sgd_update_by_ops<S: dfdx::shapes::Shape, D: TrainDevice>(
    w: &mut Tensor<S, f32, D>,
    v: &mut Tensor<S, f32, D>,
    grads: &Gradients<f32, D>,
    d: UpdateRule,
) {
    v.axpy(d.momentum, &grads.get(w), 1.0);
    if d.weight_decay != 0.0 {
        v.axpy(1.0, w, d.weight_decay);
    }
    w.axpy(1.0, v, -d.lr);
}

/// The same update in one pass over the slices, in parallel: on the paper
/// network the step touches 61 M parameters, and the ops above read and
/// write each of them seven times. The arithmetic is the ops' own
/// (`a * alpha + b * beta` per pass, where a factor 1 is exact), so both give
/// the same bits.
pub fn sgd_update_on_cpu<S: dfdx::shapes::Shape>(
    w: &mut Tensor<S, f32, Cpu>,
    v: &mut Tensor<S, f32, Cpu>,
    grads: &Gradients<f32, Cpu>,
    d: UpdateRule,
) {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 14;
    let g = grads.cpu_slice(w).expect("every parameter has a gradient");
    let (w, v) = (w.cpu_slice_mut(), v.cpu_slice_mut());
    w.par_chunks_mut(CHUNK).zip(v.par_chunks_mut(CHUNK)).zip(g.par_chunks(CHUNK)).for_each(|((w, v), g)| {
        for ((w, v), g) in w.iter_mut().zip(v).zip(g) {
            let mut u = *v * d.momentum + *g;
            if d.weight_decay != 0.0 {
                u += *w * d.weight_decay;
            }
            *v = u;
            *w += u * -d.lr;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::shapes::Shape as _;
    use shared::float::FloatModel;
    use shared::spec::{AlexNetConfig, Shape};

    /// The fused CPU loop and the tensor ops give the same bits, with and
    /// without weight decay, across chunk boundaries.
    #[test]
    fn fused_cpu_update_equals_the_ops_bit_for_bit() {
        let dev = Cpu::default();
        for len in [1, 7, 40_000] {
            let w0: Tensor<(usize,), f32, Cpu> = dev.sample_normal_like(&(len,));
            let v0: Tensor<(usize,), f32, Cpu> = dev.sample_normal_like(&(len,));
            let g: Vec<f32> = dev.sample_normal_like(&(len,)).as_vec();
            let mut grads = Gradients::leaky();
            grads.get_or_alloc_mut(&w0).unwrap().copy_from_slice(&g);
            for weight_decay in [0.0, 5e-4] {
                let d = UpdateRule { momentum: 0.9, weight_decay, lr: 0.01 };
                let (mut wa, mut va) = (w0.clone(), v0.clone());
                let (mut wb, mut vb) = (w0.clone(), v0.clone());
                sgd_update_by_ops(&mut wa, &mut va, &grads, d);
                sgd_update_on_cpu(&mut wb, &mut vb, &grads, d);
                let bits = |t: &Tensor<(usize,), f32, Cpu>| t.as_vec().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&wa), bits(&wb), "weights, len {len}, decay {weight_decay}");
                assert_eq!(bits(&va), bits(&vb), "velocity, len {len}, decay {weight_decay}");
                assert_ne!(bits(&wa), bits(&w0), "the update moved the weights");
            }
        }
    }

    /// One step by hand on every element: v = g + wd*w, w' = w - lr*v; then a
    /// second step picks up momentum.
    #[test]
    fn step_follows_the_pytorch_update() {
        let dev = Cpu::default();
        let spec = AlexNetConfig::small(Shape::new(1, 16, 16), 3).with_width(0.1).build().unwrap();
        let float = FloatModel::random(&spec, 3);
        let mut net = AlexNet::from_float(&float, &dev);
        let mut sgd = Sgd::new(&net, 0.9, 0.01);
        let (lr, wd, mu) = (0.1f32, 0.01f32, 0.9f32);
        let mut grads = Gradients::leaky();
        let mut fake = Vec::new();
        for (_, p) in net.named_params() {
            let g: Vec<f32> = (0..p.weight.shape().num_elements()).map(|i| (i % 7) as f32 - 3.0).collect();
            grads.get_or_alloc_mut(&p.weight).unwrap().copy_from_slice(&g);
            let gb: Vec<f32> = (0..p.bias.shape().num_elements()).map(|i| (i % 3) as f32).collect();
            grads.get_or_alloc_mut(&p.bias).unwrap().copy_from_slice(&gb);
            fake.push((g, gb));
        }
        let before = net.to_float();
        sgd.step(&mut net, &grads, lr);
        sgd.step(&mut net, &grads, lr);
        let after = net.to_float();
        let mut k = 0;
        for (i, layer) in before.layers.iter().enumerate() {
            if layer.weights.is_empty() {
                continue;
            }
            let (g, gb) = &fake[k];
            k += 1;
            for (j, w0) in layer.weights.iter().enumerate() {
                let v1 = g[j] + wd * w0;
                let w1 = w0 - lr * v1;
                let v2 = mu * v1 + g[j] + wd * w1;
                let w2 = w1 - lr * v2;
                assert!((after.layers[i].weights[j] - w2).abs() < 1e-5, "layer {i} weight {j}");
            }
            for (j, b0) in layer.bias.iter().enumerate() {
                let b2 = b0 - lr * gb[j] - lr * (mu * gb[j] + gb[j]);
                assert!((after.layers[i].bias[j] - b2).abs() < 1e-5, "layer {i} bias {j}");
            }
        }
    }
}
