//! Momentum SGD with weight decay over a whole network, written out because
//! dfdx's optimizers need compile-time model types. PyTorch's convention
//! (see `sgd_update`), so its recipes transfer. As in the paper, decay
//! applies to weights, not biases.

use super::device::TrainDevice;
use super::model::{AlexNet, Params};
use super::sgd_update::UpdateRule;
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

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::shapes::Shape as _;
    use shared::float::FloatModel;
    use shared::spec::{AlexNetConfig, Shape};

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
