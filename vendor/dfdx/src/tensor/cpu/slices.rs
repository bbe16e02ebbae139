//! alexnet-edge patch: the elements of CPU tensors and gradients as slices,
//! for fused host-side updates (the trainer's SGD step) that would otherwise
//! take several passes of tensor ops and a copy of every gradient.

use super::Cpu;
use crate::dtypes::Unit;
use crate::shapes::Shape;
use crate::tensor::{Gradients, Tensor};
use std::sync::Arc;

impl<S: Shape, E: Unit, T> Tensor<S, E, Cpu, T> {
    /// The elements in memory order (the whole buffer, whatever the strides).
    pub fn cpu_slice(&self) -> &[E] {
        &self.data[..]
    }

    /// The elements in memory order, copied first if the buffer is shared.
    pub fn cpu_slice_mut(&mut self) -> &mut [E] {
        &mut Arc::make_mut(&mut self.data)[..]
    }

    /// The buffer itself, copied only if another tensor shares it: an op
    /// can write its output over an input nothing else reads (the tensor
    /// made from it gets a new id, so both keep their own gradients).
    pub fn cpu_into_vec(self) -> Vec<E> {
        match Arc::try_unwrap(self.data) {
            Ok(mut owned) => std::mem::take(&mut owned.data),
            Err(shared) => shared.data.clone(),
        }
    }
}

impl<E: Unit> Gradients<E, Cpu> {
    /// The gradient of `t` without copying it, if there is one.
    pub fn cpu_slice<S: Shape, T>(&self, t: &Tensor<S, E, Cpu, T>) -> Option<&[E]> {
        self.get_ref_checked(t).map(|v| &v[..])
    }
}
