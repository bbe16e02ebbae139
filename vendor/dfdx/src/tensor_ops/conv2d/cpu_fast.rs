//! alexnet-edge patch: the standard im2col convolution on the CPU, one image
//! per thread.
//!
//! Forward:  col = im2col(x);            y_g  = W_g · col_g
//! Backward: dW_g += dy_g · col_gᵀ;      dcol_g = W_gᵀ · dy_g;  dx = col2im(dcol)
//!
//! The released backward unfolds dy at *input* resolution into an
//! (O·K·K) x (H·W) buffer (2.4 GB per image for AlexNet's conv1) and runs the
//! batch on one thread of GEMMs. Here every buffer is at output resolution
//! (C/G·K·K x OH·OW) and images run in parallel with single-threaded GEMMs,
//! each thread accumulating its own dW that is summed at the end.

use crate::shapes::{Dtype, Shape};
use crate::tensor::{cpu::*, *};
use crate::tensor_ops::matmul::cpu_kernel::MatMulImpl;

use super::{Conv2DKernel, Conv2DOp};

use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Runs the batch is split into for the weight gradient (see backward_fast).
const DW_RUNS: usize = 16;

static USE_RELEASED: AtomicBool = AtomicBool::new(false);

/// Selects dfdx 0.13.0's released CPU conv kernels (`true`) or the fast ones
/// (`false`, the default), process-wide: for tests and benchmarks that compare
/// the two.
pub fn use_released_cpu_conv2d(released: bool) {
    USE_RELEASED.store(released, Ordering::Relaxed);
}

impl Conv2DOp {
    fn in_len(&self) -> usize {
        self.chan_in * self.h_in * self.w_in
    }
    fn out_len(&self) -> usize {
        self.chan_out * self.h_out * self.w_out
    }
    /// Rows of one group's column matrix: C/G · K · K.
    fn col_rows(&self) -> usize {
        (self.chan_in / self.groups) * self.kernel * self.kernel
    }
    fn col_len(&self) -> usize {
        self.chan_in * self.kernel * self.kernel * self.h_out * self.w_out
    }

    /// Input columns `x` read by output columns `ow` at kernel column `k2`:
    /// the valid range of `ow` (outside it, the padding reads zeros).
    #[inline(always)]
    fn valid_ow(&self, k2: usize) -> (usize, usize) {
        let first = (self.padding.saturating_sub(self.dilation * k2)).div_ceil(self.stride);
        let last = (self.w_in + self.padding).saturating_sub(self.dilation * k2).div_ceil(self.stride).min(self.w_out);
        (first.min(last), last)
    }

    /// Writes every element of `col` (C·K·K x OH·OW): padding taps become 0.
    /// Rows are handled whole, so the per-element work is one load and store.
    fn im2col<E: Dtype>(&self, img: &[E], col: &mut [E]) {
        let mut rows = col.chunks_exact_mut(self.h_out * self.w_out);
        for c in 0..self.chan_in {
            let plane = &img[c * self.h_in * self.w_in..][..self.h_in * self.w_in];
            for k1 in 0..self.kernel {
                for k2 in 0..self.kernel {
                    let row = rows.next().expect("col has C*K*K rows");
                    let (first, last) = self.valid_ow(k2);
                    for (oh, out) in row.chunks_exact_mut(self.w_out).enumerate() {
                        let y = (oh * self.stride + self.dilation * k1).wrapping_sub(self.padding);
                        if y >= self.h_in {
                            out.fill(E::default());
                            continue;
                        }
                        let src = &plane[y * self.w_in..][..self.w_in];
                        out[..first].fill(E::default());
                        out[last..].fill(E::default());
                        let x0 = first * self.stride + self.dilation * k2 - self.padding;
                        if self.stride == 1 {
                            out[first..last].copy_from_slice(&src[x0..x0 + (last - first)]);
                        } else {
                            for (o, x) in out[first..last].iter_mut().zip((x0..).step_by(self.stride)) {
                                *o = src[x];
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds every column entry back onto the input position it was read from.
    fn col2im_add<E: Dtype>(&self, col: &[E], img: &mut [E]) {
        let mut rows = col.chunks_exact(self.h_out * self.w_out);
        for c in 0..self.chan_in {
            let plane = &mut img[c * self.h_in * self.w_in..][..self.h_in * self.w_in];
            for k1 in 0..self.kernel {
                for k2 in 0..self.kernel {
                    let row = rows.next().expect("col has C*K*K rows");
                    let (first, last) = self.valid_ow(k2);
                    for (oh, src) in row.chunks_exact(self.w_out).enumerate() {
                        let y = (oh * self.stride + self.dilation * k1).wrapping_sub(self.padding);
                        if y >= self.h_in {
                            continue;
                        }
                        let dst = &mut plane[y * self.w_in..][..self.w_in];
                        let x0 = first * self.stride + self.dilation * k2 - self.padding;
                        for (v, x) in src[first..last].iter().zip((x0..).step_by(self.stride)) {
                            dst[x] += *v;
                        }
                    }
                }
            }
        }
    }
}

impl Cpu {
    fn forward_fast<E: Dtype>(&self, op: &Conv2DOp, img: &[E], filters: &[E], out: &mut [E])
    where
        Self: MatMulImpl<E>,
    {
        let (m, k, n) = (op.chan_out / op.groups, op.col_rows(), op.h_out * op.w_out);
        out.par_chunks_mut(op.out_len())
            .zip(img.par_chunks(op.in_len()))
            .for_each_init(
                || vec![E::default(); op.col_len()],
                |col, (out, img)| {
                    op.im2col(img, col);
                    for g in 0..op.groups {
                        Self::matmul_serial(
                            (m, k, n),
                            false,
                            filters[g * m * k..].as_ptr(),
                            [k, 1],
                            col[g * k * n..].as_ptr(),
                            [n, 1],
                            out[g * m * n..].as_mut_ptr(),
                            [n, 1],
                        );
                    }
                },
            );
    }

    #[allow(clippy::too_many_arguments)]
    fn backward_fast<E: Dtype>(
        &self,
        op: &Conv2DOp,
        img: &[E],
        grad_img: &mut [E],
        filters: &[E],
        grad_filters: &mut [E],
        grad_out: &[E],
    ) where
        Self: MatMulImpl<E>,
    {
        let (m, k, n) = (op.chan_out / op.groups, op.col_rows(), op.h_out * op.w_out);
        let filters_len = op.chan_out * k;
        // Images are split into a fixed number of runs, each summing its dW
        // in image order, and the runs are added in order: the result does
        // not depend on thread scheduling, so training is reproducible.
        let runs = op.batch.clamp(1, DW_RUNS);
        let per_run = op.batch.div_ceil(runs);
        let partial: Vec<Vec<E>> = grad_img
            .par_chunks_mut(per_run * op.in_len())
            .zip(img.par_chunks(per_run * op.in_len()))
            .zip(grad_out.par_chunks(per_run * op.out_len()))
            .map(|((grad_img, img), grad_out)| {
                let mut dw = vec![E::default(); filters_len];
                let mut col = vec![E::default(); op.col_len()];
                let mut dcol = col.clone();
                for ((grad_img, img), grad_out) in grad_img
                    .chunks_mut(op.in_len())
                    .zip(img.chunks(op.in_len()))
                    .zip(grad_out.chunks(op.out_len()))
                {
                    op.im2col(img, &mut col);
                    for g in 0..op.groups {
                        // dW_g (O/G x CKK/G) += dy_g (O/G x N) · col_gᵀ (N x CKK/G)
                        Self::matmul_serial(
                            (m, n, k),
                            true,
                            grad_out[g * m * n..].as_ptr(),
                            [n, 1],
                            col[g * k * n..].as_ptr(),
                            [1, n],
                            dw[g * m * k..].as_mut_ptr(),
                            [k, 1],
                        );
                        // dcol_g (CKK/G x N) = W_gᵀ (CKK/G x O/G) · dy_g (O/G x N)
                        Self::matmul_serial(
                            (k, m, n),
                            false,
                            filters[g * m * k..].as_ptr(),
                            [1, k],
                            grad_out[g * m * n..].as_ptr(),
                            [n, 1],
                            dcol[g * k * n..].as_mut_ptr(),
                            [n, 1],
                        );
                    }
                    op.col2im_add(&dcol, grad_img);
                }
                dw
            })
            .collect();
        for dw in partial {
            grad_filters.iter_mut().zip(dw).for_each(|(g, d)| *g += d);
        }
    }
}

impl<E: Dtype> Conv2DKernel<E> for Cpu
where
    Self: MatMulImpl<E>,
{
    fn alloc<S: Shape>(&self, s: S) -> Result<Tensor<S, E, Self>, Self::Err> {
        self.try_zeros_like(&s)
    }

    fn forward<L: Shape, R: Shape, O: Shape>(
        &self,
        op: Conv2DOp,
        lhs: &Tensor<L, E, Self>,
        rhs: &Tensor<R, E, Self>,
        out: &mut Tensor<O, E, Self>,
    ) -> Result<(), Self::Err> {
        if USE_RELEASED.load(Ordering::Relaxed) {
            return self.forward_released(op, lhs, rhs, out);
        }
        // try_conv2d checked that image and filters are contiguous.
        let img = &lhs.data[..op.batch * op.in_len()];
        let out = Arc::make_mut(&mut out.data);
        self.forward_fast(&op, img, rhs.data.as_ref(), out);
        Ok(())
    }

    fn backward<L: Shape, R: Shape, O: Shape>(
        &self,
        op: Conv2DOp,
        lhs: &Tensor<L, E, Self>,
        grad_lhs: &mut Self::Vec,
        rhs: &Tensor<R, E, Self>,
        grad_rhs: &mut Self::Vec,
        out: &impl Tensorlike<O, E, Self>,
        grad_out: &Self::Vec,
    ) -> Result<(), Self::Err> {
        if USE_RELEASED.load(Ordering::Relaxed) {
            return self.backward_released(op, lhs, grad_lhs, rhs, grad_rhs, out, grad_out);
        }
        let img = &lhs.data[..op.batch * op.in_len()];
        self.backward_fast(&op, img, &mut grad_lhs[..], rhs.data.as_ref(), &mut grad_rhs[..], &grad_out[..]);
        Ok(())
    }
}
