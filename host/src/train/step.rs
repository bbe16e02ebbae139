//! One training step's gradients: forward, loss and backward on a batch.
//!
//! On the CPU the batch of a small network is cut into [`CPU_SHARDS`] row
//! ranges whose forward and backward passes run on separate threads, each
//! with its own tape, and the gradients are summed. The kernels inside
//! already parallelize over images, but small networks spend most of a step
//! in per-op overhead that only this coarser split overlaps (measured: two
//! single-threaded runs side by side do 1.5x the images of one two-threaded
//! run). Every tape holds a gradient of every parameter, so a network of
//! more than [`SHARDED_PARAMS`] parameters (the paper's 61 M: 244 MB per
//! copy) runs in one piece. The shard count depends on the spec, not on the
//! core count, so a seed gives the same weights on any machine; dropout
//! masks are drawn for the whole batch and then split, so the random stream
//! does not depend on it either.

use super::device::TrainDevice;
use super::model::{AlexNet, TrainMode};
use super::recipe::Hyper;
use super::rng::{dropout_mask, stream, DROPOUT};
use super::tensor::Image4;
use dfdx::prelude::*;
use shared::spec::{Layer, ModelSpec};
use std::ops::Range;

/// Row ranges a CPU step of a small network is cut into.
pub const CPU_SHARDS: usize = 2;

/// Networks with more parameters than this take the step in one piece.
pub const SHARDED_PARAMS: u64 = 16_000_000;

/// Shards of a CPU step for `spec`.
pub fn cpu_shards(spec: &ModelSpec) -> usize {
    if spec.param_count() > SHARDED_PARAMS {
        1
    } else {
        CPU_SHARDS
    }
}

/// A normalized batch and what the step needs to know about it.
pub struct StepInput<'a> {
    pub spec: &'a ModelSpec,
    /// B x C x H x W normalized values.
    pub data: &'a [f32],
    pub labels: &'a [u32],
    pub hyper: &'a Hyper,
    pub step: u64,
}

pub struct StepOutput<D: TrainDevice> {
    /// B x classes.
    pub logits: Vec<f32>,
    /// Mean loss over the batch.
    pub loss: f32,
    pub grads: Gradients<f32, D>,
}

impl StepInput<'_> {
    fn batch(&self) -> usize {
        self.labels.len()
    }

    /// Dropout multipliers for the whole batch, one vector per dropout
    /// layer in forward order, as an unsplit step would draw them.
    fn dropout_masks(&self) -> Vec<Vec<f32>> {
        let mut rng = stream(self.hyper.seed, DROPOUT, self.step);
        self.spec
            .walk()
            .filter_map(|info| match info.layer {
                Layer::Dense(d) if d.dropout => {
                    Some(dropout_mask(&mut rng, self.batch() * d.out_features as usize, self.hyper.dropout))
                }
                _ => None,
            })
            .collect()
    }
}

fn targets(labels: &[u32], classes: usize, smoothing: f32) -> Vec<f32> {
    let off = smoothing / classes as f32;
    let mut t = vec![off; labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        t[i * classes + l as usize] += 1.0 - smoothing;
    }
    t
}

/// Forward and backward on `rows` of the batch, the loss weighted by the
/// shard's share of the batch so that summed gradients are the batch mean's.
pub fn shard<D: TrainDevice>(
    net: &AlexNet<D>,
    dev: &D,
    input: &StepInput,
    masks: &[Vec<f32>],
    rows: Range<usize>,
) -> StepOutput<D> {
    let spec = input.spec;
    let (c, h, w) = (spec.input.c as usize, spec.input.h as usize, spec.input.w as usize);
    let n = rows.len();
    let x: Image4<D, NoneTape> =
        dev.tensor_from_vec(input.data[rows.start * c * h * w..rows.end * c * h * w].to_vec(), (n, c, h, w));
    let mut next_mask = masks.iter();
    let mut dropout = |len: usize| {
        let full = next_mask.next().expect("one mask per dropout layer");
        let per_row = len / n;
        full[rows.start * per_row..rows.end * per_row].to_vec()
    };
    // Only the parameters' gradients are kept: each activation's is freed
    // as soon as backward has passed it on. The image's is never computed.
    let mut grads = Gradients::leaky();
    grads.mark_constant(&x);
    for (_, p) in net.named_params() {
        grads.keep_leaf(&p.weight);
        grads.keep_leaf(&p.bias);
    }
    let logits = net.forward(x.traced(grads), Some(TrainMode { dropout: &mut dropout }));
    let values = logits.retaped::<NoneTape>().as_vec();
    let classes = spec.classes() as usize;
    let t = targets(&input.labels[rows.clone()], classes, input.hyper.label_smoothing);
    let loss = cross_entropy_with_logits_loss(logits, dev.tensor_from_vec(t, (n, classes)));
    let loss = loss * (n as f32 / input.batch() as f32);
    let loss_value = loss.retaped::<NoneTape>().as_vec()[0];
    StepOutput { logits: values, loss: loss_value, grads: loss.backward() }
}

/// The whole batch as one shard (CUDA, and the reference for the CPU split).
pub fn unsplit<D: TrainDevice>(net: &AlexNet<D>, dev: &D, input: &StepInput) -> StepOutput<D> {
    shard(net, dev, input, &input.dropout_masks(), 0..input.batch())
}

/// A device's way of computing one step's gradients: the CPU splits the
/// batch (above), other devices take it whole.
pub trait StepDevice: TrainDevice {
    /// Logits, loss and gradients of one training batch.
    fn step_gradients(net: &AlexNet<Self>, dev: &Self, input: &StepInput) -> StepOutput<Self> {
        unsplit(net, dev, input)
    }
}

impl StepDevice for Cpu {
    fn step_gradients(net: &AlexNet<Self>, dev: &Self, input: &StepInput) -> StepOutput<Self> {
        sharded_cpu(net, dev, input)
    }
}

#[cfg(feature = "cuda")]
impl StepDevice for Cuda {}

/// Row ranges of `shards` nearly equal parts (fewer for tiny batches).
fn shard_rows(batch: usize, shards: usize) -> Vec<Range<usize>> {
    let parts = shards.min(batch).max(1);
    (0..parts).map(|k| k * batch / parts..(k + 1) * batch / parts).collect()
}

/// The CPU step: shards in parallel, gradients summed in shard order.
pub fn sharded_cpu(net: &AlexNet<Cpu>, dev: &Cpu, input: &StepInput) -> StepOutput<Cpu> {
    use rayon::prelude::*;
    let masks = input.dropout_masks();
    let mut parts: Vec<StepOutput<Cpu>> = shard_rows(input.batch(), cpu_shards(input.spec))
        .into_par_iter()
        .map(|rows| shard(net, dev, input, &masks, rows))
        .collect();
    let mut out = parts.remove(0);
    for part in parts {
        out.logits.extend(part.logits);
        out.loss += part.loss;
        for (_, p) in net.named_params() {
            add_grad(&mut out.grads, &part.grads, &p.weight);
            add_grad(&mut out.grads, &part.grads, &p.bias);
        }
    }
    out
}

fn add_grad<S: Shape>(into: &mut Gradients<f32, Cpu>, from: &Gradients<f32, Cpu>, t: &Tensor<S, f32, Cpu>) {
    let add = from.cpu_slice(t).expect("every parameter has a gradient");
    let acc = into.get_or_alloc_mut(t).expect("gradient buffer");
    acc.iter_mut().zip(add).for_each(|(a, b)| *a += *b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::recipe::RecipeKind;
    use shared::float::{FloatModel, SplitMix64};
    use shared::spec::{AlexNetConfig, Shape};

    /// With leaves marked, backward frees every other gradient as it goes
    /// and the leaves' gradients are those of a tape that keeps everything.
    #[test]
    fn backward_keeps_only_the_marked_gradients() {
        let dev = Cpu::default();
        let w: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(vec![0.5, -1.0, 2.0, 0.25], (2, 2));
        let x: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(vec![1.0, 2.0, -3.0, 4.0], (2, 2));
        let run = |grads: Gradients<f32, Cpu>| {
            let hidden = x.clone().traced(grads).matmul(w.clone());
            let kept = hidden.retaped::<NoneTape>();
            (kept, hidden.relu().square().sum().backward())
        };
        let mut marked = Gradients::leaky();
        marked.keep_leaf(&w);
        let (hidden, grads) = run(marked);
        assert!(grads.cpu_slice(&hidden).is_none(), "an activation's gradient outlived backward");
        assert!(grads.cpu_slice(&x).is_none(), "the input's gradient outlived backward");
        let (hidden_all, all) = run(Gradients::leaky());
        assert!(all.cpu_slice(&hidden_all).is_some());
        assert_eq!(grads.cpu_slice(&w), all.cpu_slice(&w));
    }

    /// The paper network's gradients are 244 MB a copy: it takes its step on
    /// one tape; the networks the fast recipe trains split the batch.
    #[test]
    fn only_small_networks_split_the_batch() {
        let paper = AlexNetConfig::paper().build().unwrap();
        assert_eq!(cpu_shards(&paper), 1);
        let small = AlexNetConfig::small(Shape::new(1, 64, 64), 10).build().unwrap();
        assert_eq!(cpu_shards(&small), CPU_SHARDS);
    }

    /// Splitting changes only the order of additions: logits, loss and
    /// gradients agree to float rounding with the single-pass step. With gemm
    /// the logits are even equal; OpenBLAS picks its kernel by the product's
    /// size, so half a batch may round differently in the last bit.
    #[test]
    fn sharded_step_equals_the_unsplit_step() {
        let dev = Cpu::default();
        let spec = AlexNetConfig::small(Shape::new(1, 20, 20), 10).with_width(0.125).build().unwrap();
        let net = AlexNet::from_float(&FloatModel::random(&spec, 11), &dev);
        let mut rng = SplitMix64::new(4);
        for batch in [1, 2, 7] {
            let data: Vec<f32> = (0..batch * 400).map(|_| rng.next_normal() as f32).collect();
            let labels: Vec<u32> = (0..batch).map(|i| (i * 3 % 10) as u32).collect();
            let hyper = Hyper::defaults(RecipeKind::Fast);
            let input = StepInput { spec: &spec, data: &data, labels: &labels, hyper: &hyper, step: 5 };
            let (a, b) = (unsplit(&net, &dev, &input), sharded_cpu(&net, &dev, &input));
            if cfg!(feature = "openblas") {
                for (x, y) in a.logits.iter().zip(&b.logits) {
                    assert!((x - y).abs() <= 1e-5 * x.abs().max(1.0), "logits {x} vs {y} (batch {batch})");
                }
            } else {
                assert_eq!(a.logits, b.logits);
            }
            assert!((a.loss - b.loss).abs() <= 1e-6 * a.loss.abs().max(1.0), "{} vs {}", a.loss, b.loss);
            for (name, p) in net.named_params() {
                for (ga, gb) in [
                    (a.grads.get(&p.weight).as_vec(), b.grads.get(&p.weight).as_vec()),
                    (a.grads.get(&p.bias).as_vec(), b.grads.get(&p.bias).as_vec()),
                ] {
                    let scale = ga.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
                    for (x, y) in ga.iter().zip(&gb) {
                        assert!((x - y).abs() <= 1e-5 * scale, "{name}: {x} vs {y} (batch {batch})");
                    }
                }
            }
        }
    }
}
