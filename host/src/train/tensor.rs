//! The tensor shapes training passes between its ops, at the bottom of
//! `train/`: every op, the model and the step name them from here.

use dfdx::prelude::*;

/// B x C x H x W.
pub type Image4<D, T> = Tensor<(usize, usize, usize, usize), f32, D, T>;
/// B x features.
pub type Matrix<D, T> = Tensor<(usize, usize), f32, D, T>;
/// B x C x I (I = H·W after a convolution, 1 after a dense layer).
pub type Planes<D, T> = Tensor<(usize, usize, usize), f32, D, T>;
/// One value per channel.
pub type Bias<D> = Tensor<(usize,), f32, D>;
