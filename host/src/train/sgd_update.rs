//! One parameter tensor's momentum-SGD update, PyTorch's convention:
//! `v = momentum * v + (g + weight_decay * w)`, `w -= lr * v`. As tensor
//! ops for any device, and as one parallel pass on the CPU.

use dfdx::prelude::*;

/// The constants of one parameter tensor's update.
#[derive(Clone, Copy)]
pub struct UpdateRule {
    pub momentum: f32,
    pub weight_decay: f32,
    pub lr: f32,
}

/// The update as tensor ops, for any device: three passes over the tensor
/// and a copy of the gradient.
pub fn sgd_update_by_ops<S: dfdx::shapes::Shape, D: Device<f32>>(
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
}
