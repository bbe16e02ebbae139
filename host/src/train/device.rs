//! The devices training runs on (dfdx's CPU, or CUDA with the `cuda`
//! feature) and the ops where each has its own kernel: LRN, bias + ReLU, a
//! convolution's whole epilogue and the SGD update, fused on the CPU,
//! composed of tensor ops elsewhere.

use super::bias_act::{bias_act_composed, bias_act_fused_cpu};
use super::epilogue::{epilogue_fused_cpu, Epilogue};
use super::lrn::{lrn_composed, lrn_fused_cpu};
use super::max_pool::max_pool_by_ops;
use super::sgd_update::{sgd_update_by_ops, sgd_update_on_cpu, UpdateRule};
use super::tensor::{Bias, Image4, Planes};
use dfdx::prelude::*;
use dfdx::tensor_ops::{use_released_cpu_conv2d, use_released_cpu_pool2d};
use dfdx::tensor_ops::{Conv2DKernel, Pool2DKernel};
use shared::spec::LrnSpec;
use std::sync::atomic::{AtomicBool, Ordering};

static RELEASED_ON_CPU: AtomicBool = AtomicBool::new(false);

/// Makes the CPU train as dfdx 0.13.0 released would (its conv and pooling
/// kernels; LRN, bias + ReLU and SGD composed of its tensor ops) instead of
/// with this project's kernels, process-wide: the baseline of
/// `host bench-train`.
pub fn use_released_cpu_kernels(released: bool) {
    use_released_cpu_conv2d(released);
    use_released_cpu_pool2d(released);
    RELEASED_ON_CPU.store(released, Ordering::Relaxed);
}

fn released_on_cpu() -> bool {
    RELEASED_ON_CPU.load(Ordering::Relaxed)
}

/// A device the trainer runs on: dfdx's CPU or CUDA backend.
pub trait TrainDevice: Device<f32> + Conv2DKernel<f32> + Pool2DKernel<f32> {
    /// LRN on this device: a fused kernel where there is one, otherwise the
    /// composition of tensor ops.
    fn lrn<T: Tape<f32, Self> + Merge<T>>(x: Image4<Self, T>, spec: &LrnSpec) -> Image4<Self, T> {
        lrn_composed(x, spec)
    }

    /// A layer's bias and optional ReLU over its B x C x I output.
    fn bias_act<T: Tape<f32, Self> + Merge<T>>(y: Planes<Self, T>, bias: &Bias<Self>, relu: bool) -> Planes<Self, T> {
        bias_act_composed(y, bias, relu)
    }

    /// What follows a convolution's product (bias, ReLU, LRN, max pooling),
    /// fused where there is a kernel, otherwise op by op.
    fn epilogue<T: Tape<f32, Self> + Merge<T>>(y: Image4<Self, T>, bias: &Bias<Self>, e: &Epilogue) -> Image4<Self, T> {
        epilogue_op_by_op(y, bias, e)
    }

    /// Momentum SGD on one parameter tensor and its velocity.
    fn sgd_update<S: dfdx::shapes::Shape>(
        w: &mut Tensor<S, f32, Self>,
        v: &mut Tensor<S, f32, Self>,
        grads: &Gradients<f32, Self>,
        rule: UpdateRule,
    ) where
        Self: Sized,
    {
        sgd_update_by_ops(w, v, grads, rule)
    }
}

/// The epilogue as the device's separate ops.
fn epilogue_op_by_op<D: TrainDevice, T: Tape<f32, D> + Merge<T>>(
    y: Image4<D, T>,
    bias: &Bias<D>,
    e: &Epilogue,
) -> Image4<D, T> {
    let (b, c, h, w) = *y.shape();
    let x = D::bias_act(y.reshape_like(&(b, c, h * w)), bias, e.relu).reshape_like(&(b, c, h, w));
    let x = match &e.lrn {
        Some(spec) => D::lrn(x, spec),
        None => x,
    };
    match &e.pool {
        Some(p) => max_pool_by_ops(x, p),
        None => x,
    }
}

impl TrainDevice for Cpu {
    fn lrn<T: Tape<f32, Self> + Merge<T>>(x: Image4<Self, T>, spec: &LrnSpec) -> Image4<Self, T> {
        if released_on_cpu() {
            lrn_composed(x, spec)
        } else {
            lrn_fused_cpu(x, spec)
        }
    }

    fn bias_act<T: Tape<f32, Self> + Merge<T>>(y: Planes<Self, T>, bias: &Bias<Self>, relu: bool) -> Planes<Self, T> {
        if released_on_cpu() {
            bias_act_composed(y, bias, relu)
        } else {
            bias_act_fused_cpu(y, bias, relu)
        }
    }

    fn epilogue<T: Tape<f32, Self> + Merge<T>>(y: Image4<Self, T>, bias: &Bias<Self>, e: &Epilogue) -> Image4<Self, T> {
        if released_on_cpu() || e.pool.is_none() {
            epilogue_op_by_op(y, bias, e)
        } else {
            epilogue_fused_cpu(y, bias, e)
        }
    }

    fn sgd_update<S: dfdx::shapes::Shape>(
        w: &mut Tensor<S, f32, Self>,
        v: &mut Tensor<S, f32, Self>,
        grads: &Gradients<f32, Self>,
        rule: UpdateRule,
    ) {
        if released_on_cpu() {
            sgd_update_by_ops(w, v, grads, rule)
        } else {
            sgd_update_on_cpu(w, v, grads, rule)
        }
    }
}

#[cfg(feature = "cuda")]
impl TrainDevice for Cuda {}
