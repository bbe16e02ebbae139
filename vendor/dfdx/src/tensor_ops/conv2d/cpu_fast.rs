//! alexnet-edge patch: the standard im2col convolution on the CPU, several
//! images per GEMM.
//!
//! Forward:  col = im2col(x);            y_g  = W_g · col_g
//! Backward: dW_g += dy_g · col_gᵀ;      dcol_g = W_gᵀ · dy_g;  dx = col2im(dcol)
//!
//! The released backward unfolds dy at *input* resolution into an
//! (O·K·K) x (H·W) buffer (2.4 GB per image for AlexNet's conv1) and runs the
//! batch on one thread of GEMMs. Here every buffer is at output resolution.
//! Images are taken in chunks whose columns sit side by side in one matrix
//! (C/G·K·K x chunk·OH·OW): late layers have few output pixels (49 for a 7x7
//! map), and one GEMM per image there spends more time packing the weights
//! than multiplying. Chunks run in parallel with single-threaded GEMMs; in
//! backward, a fixed number of parts of consecutive chunks each accumulate
//! their own dW, summed at the end in part order.

use crate::shapes::{Dtype, Shape};
use crate::tensor::{cpu::*, *};
use crate::tensor_ops::matmul::cpu_kernel::MatMulImpl;

use super::{Conv2DKernel, Conv2DOp};

use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Columns a chunk's GEMMs should have at least: enough that packing the
/// weights once is cheap against the multiply-adds (measured on the scaled
/// AlexNet; see the training benchmark in the README). OpenBLAS packs
/// cheaply enough that smaller chunks, whose column matrices stay in the
/// core's cache (the scaled network's conv2: one image, 1.4 MB, instead of
/// three), win: 4-19% less layer time per step on the scaled network in
/// five alternating runs, the paper network unchanged.
#[cfg(feature = "openblas")]
const CHUNK_COLUMNS: usize = 128;
#[cfg(not(feature = "openblas"))]
const CHUNK_COLUMNS: usize = 512;

/// Parts a backward pass splits its chunks into, each with its own dW
/// (summed at the end in part order): enough to keep the cores busy, and a
/// constant, so the summation order does not depend on the machine.
const DW_PARTS: usize = 8;

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
    /// Output pixels of one image: the columns it adds to a chunk.
    fn pixels(&self) -> usize {
        self.h_out * self.w_out
    }
    /// Rows of one group's column matrix: C/G · K · K.
    fn col_rows(&self) -> usize {
        (self.chan_in / self.groups) * self.kernel * self.kernel
    }
    /// Images per chunk. It depends on the shapes only, so the order in which
    /// dW is summed, and with it the trained weights, does not depend on the
    /// machine or on thread scheduling.
    fn chunk_images(&self) -> usize {
        CHUNK_COLUMNS.div_ceil(self.pixels()).clamp(1, self.batch.max(1))
    }

    /// Input columns `x` read by output columns `ow` at kernel column `k2`:
    /// the valid range of `ow` (outside it, the padding reads zeros).
    #[inline(always)]
    fn valid_ow(&self, k2: usize) -> (usize, usize) {
        let first = (self.padding.saturating_sub(self.dilation * k2)).div_ceil(self.stride);
        let last = (self.w_in + self.padding).saturating_sub(self.dilation * k2).div_ceil(self.stride).min(self.w_out);
        (first.min(last), last)
    }

    /// For a stride-1 convolution whose output rows are as wide as its input
    /// rows (AlexNet's padded 3x3 and 5x5 layers), output pixel `p` of
    /// kernel tap (k1, k2) reads input pixel `p + offset` wherever it reads
    /// the input at all: a row of the column matrix is one contiguous span
    /// of the plane, apart from the padding columns at its edges. Returns
    /// that tap's [`FlatTap`], `None` for other convolutions.
    #[inline(always)]
    fn flat_tap(&self, k1: usize, k2: usize) -> Option<FlatTap> {
        if self.stride != 1 || self.w_out != self.w_in {
            return None;
        }
        let w = self.w_in as isize;
        let dy = (self.dilation * k1) as isize - self.padding as isize;
        let dx = (self.dilation * k2) as isize - self.padding as isize;
        let rows_from = ((-dy).max(0) as usize).min(self.h_out);
        let rows_to = ((self.h_in as isize - dy).max(0) as usize).clamp(rows_from, self.h_out);
        let (cols_from, cols_to) = self.valid_ow(k2);
        let offset = dy * w + dx;
        // The part of the valid rows whose source lies in the plane; what
        // is cut off at either end is padding columns.
        let lo = ((rows_from * self.w_out) as isize).max(-offset);
        let hi = ((rows_to * self.w_out) as isize).min((self.h_in * self.w_in) as isize - offset);
        let (span, src) = if lo < hi {
            (lo as usize..hi as usize, (lo + offset) as usize..(hi + offset) as usize)
        } else {
            (0..0, 0..0)
        };
        Some(FlatTap { rows: rows_from..rows_to, cols: cols_from..cols_to, span, src })
    }

    /// Writes one image's columns: row r (of C·K·K) goes to
    /// `col[r * ld..][..OH·OW]`; padding taps become 0. A row is one copy
    /// for [flat taps](Self::flat_tap), else one per output row: AlexNet's
    /// late layers have rows of 7 and 15 values, where a call to `memcpy`
    /// per row cost more than the copy.
    fn im2col<E: Dtype>(&self, img: &[E], col: &mut [E], ld: usize) {
        let mut r = 0;
        for c in 0..self.chan_in {
            let plane = &img[c * self.h_in * self.w_in..][..self.h_in * self.w_in];
            for k1 in 0..self.kernel {
                for k2 in 0..self.kernel {
                    let row = &mut col[r * ld..][..self.pixels()];
                    r += 1;
                    if let Some(tap) = self.flat_tap(k1, k2) {
                        let (above, below) = (tap.rows.start * self.w_out, tap.rows.end * self.w_out);
                        if above > 0 {
                            row[..above].fill(E::default());
                        }
                        if below < row.len() {
                            row[below..].fill(E::default());
                        }
                        row[tap.span.clone()].copy_from_slice(&plane[tap.src.clone()]);
                        tap.zero_padding_columns(row, self.w_out);
                        continue;
                    }
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

    /// Adds one image's column entries (laid out as in `im2col`) back onto
    /// the input positions they were read from. The entries of padding taps
    /// in flat rows are zeroed on the way (they belong to no input), so the
    /// rest adds as one span.
    fn col2im_add<E: Dtype>(&self, col: &mut [E], ld: usize, img: &mut [E]) {
        let mut r = 0;
        for c in 0..self.chan_in {
            let plane = &mut img[c * self.h_in * self.w_in..][..self.h_in * self.w_in];
            for k1 in 0..self.kernel {
                for k2 in 0..self.kernel {
                    let row = &mut col[r * ld..][..self.pixels()];
                    r += 1;
                    if let Some(tap) = self.flat_tap(k1, k2) {
                        tap.zero_padding_columns(row, self.w_out);
                        for (d, v) in plane[tap.src.clone()].iter_mut().zip(&row[tap.span.clone()]) {
                            *d += *v;
                        }
                        continue;
                    }
                    let (first, last) = self.valid_ow(k2);
                    for (oh, src) in row.chunks_exact(self.w_out).enumerate() {
                        let y = (oh * self.stride + self.dilation * k1).wrapping_sub(self.padding);
                        if y >= self.h_in {
                            continue;
                        }
                        let dst = &mut plane[y * self.w_in..][..self.w_in];
                        let x0 = first * self.stride + self.dilation * k2 - self.padding;
                        if self.stride == 1 {
                            // Contiguous on both sides: this loop vectorizes.
                            for (d, v) in dst[x0..x0 + (last - first)].iter_mut().zip(&src[first..last]) {
                                *d += *v;
                            }
                        } else {
                            for (v, x) in src[first..last].iter().zip((x0..).step_by(self.stride)) {
                                dst[x] += *v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One kernel tap of a [flat](Conv2DOp::flat_tap) convolution: the output
/// rows that read the input, the output columns that do, and the span of
/// the column-matrix row that is a copy of the plane's `src`.
struct FlatTap {
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    span: std::ops::Range<usize>,
    src: std::ops::Range<usize>,
}

impl FlatTap {
    /// Zeroes the padding columns of the valid rows: the span runs through
    /// them, reading the neighbouring row's pixels.
    #[inline(always)]
    fn zero_padding_columns<E: Dtype>(&self, row: &mut [E], w: usize) {
        if self.cols.start == 0 && self.cols.end == w {
            return;
        }
        // Column by column: a loop along a row's one or two padding values
        // becomes a call to `memset` each.
        let rows = &mut row[self.rows.start * w..self.rows.end * w];
        for col in (0..self.cols.start).chain(self.cols.end..w) {
            for v in rows.iter_mut().skip(col).step_by(w) {
                *v = E::default();
            }
        }
    }
}

/// Moves per-image planes (image-major: `[image][channel][pixel]`) to or from
/// a chunk's channel-major matrix (`[channel][image · pixel]`).
fn transpose_chunk<E: Copy>(images: usize, channels: usize, pixels: usize, from: &[E], to: &mut [E], to_chunk: bool) {
    let ld = images * pixels;
    for i in 0..images {
        for c in 0..channels {
            let (img, chunk) = ((i * channels + c) * pixels, c * ld + i * pixels);
            if to_chunk {
                to[chunk..][..pixels].copy_from_slice(&from[img..][..pixels]);
            } else {
                to[img..][..pixels].copy_from_slice(&from[chunk..][..pixels]);
            }
        }
    }
}

/// The first `len` elements of a reused buffer, grown if needed. Callers
/// overwrite every element they read.
fn sized<E: Default + Clone>(buf: &mut Vec<E>, len: usize) -> &mut [E] {
    if buf.len() < len {
        buf.resize(len, E::default());
    }
    &mut buf[..len]
}

impl Cpu {
    fn forward_fast<E: Dtype>(&self, op: &Conv2DOp, img: &[E], filters: &[E], out: &mut [E])
    where
        Self: MatMulImpl<E>,
    {
        let (m, k) = (op.chan_out / op.groups, op.col_rows());
        let chunk = op.chunk_images();
        // Buffers are reused across a thread's chunks: fresh large
        // allocations cost a page fault per 4 KiB.
        out.par_chunks_mut(chunk * op.out_len()).zip(img.par_chunks(chunk * op.in_len())).for_each_init(
            || (Vec::new(), Vec::new()),
            |(col, y), (out, img)| {
                let images = img.len() / op.in_len();
                let ld = images * op.pixels();
                let col = sized(col, op.groups * k * ld);
                for (i, img) in img.chunks_exact(op.in_len()).enumerate() {
                    op.im2col(img, &mut col[i * op.pixels()..], ld);
                }
                // One image: the GEMM writes the output in place.
                let dst = if images == 1 { &mut *out } else { sized(y, op.chan_out * ld) };
                for g in 0..op.groups {
                    Self::matmul_serial(
                        (m, k, ld),
                        false,
                        filters[g * m * k..].as_ptr(),
                        [k, 1],
                        col[g * k * ld..].as_ptr(),
                        [ld, 1],
                        dst[g * m * ld..].as_mut_ptr(),
                        [ld, 1],
                    );
                }
                if images > 1 {
                    transpose_chunk(images, op.chan_out, op.pixels(), &y[..op.chan_out * ld], out, false);
                }
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn backward_fast<E: Dtype>(
        &self,
        op: &Conv2DOp,
        img: &[E],
        grad_img: Option<&mut [E]>,
        filters: &[E],
        grad_filters: &mut [E],
        grad_out: &[E],
    ) where
        Self: MatMulImpl<E>,
    {
        let (m, k) = (op.chan_out / op.groups, op.col_rows());
        let filters_len = op.chan_out * k;
        let chunk = op.chunk_images();
        // Without an image gradient (a constant input) the dcol GEMM and
        // col2im are skipped: for AlexNet's conv1, 5% of a step.
        let grad_chunks: Vec<Option<&mut [E]>> = match grad_img {
            Some(g) => g.chunks_mut(chunk * op.in_len()).map(Some).collect(),
            None => img.chunks(chunk * op.in_len()).map(|_| None).collect(),
        };
        let chunks: Vec<_> = grad_chunks
            .into_iter()
            .zip(img.chunks(chunk * op.in_len()))
            .zip(grad_out.chunks(chunk * op.out_len()))
            .collect();
        // Consecutive chunks share one dW, which their GEMMs accumulate in
        // chunk order: a dW per chunk was zeroed, written and summed once
        // per image on the scaled network's conv2 (400 KB each).
        let per_part = chunks.len().div_ceil(DW_PARTS).max(1);
        let mut parts: Vec<Vec<_>> = Vec::new();
        let mut chunks = chunks.into_iter().peekable();
        while chunks.peek().is_some() {
            parts.push(chunks.by_ref().take(per_part).collect());
        }
        let partial: Vec<Vec<E>> = parts
            .into_par_iter()
            .map_init(
                || (Vec::new(), Vec::new(), Vec::new()),
                |(col, dcol, dy_chunk), part| {
                    let mut dw = vec![E::default(); filters_len];
                    for ((grad_img, img), grad_out) in part {
                        let images = img.len() / op.in_len();
                        let ld = images * op.pixels();
                        let col = sized(col, op.groups * k * ld);
                        for (i, img) in img.chunks_exact(op.in_len()).enumerate() {
                            op.im2col(img, &mut col[i * op.pixels()..], ld);
                        }
                        let dy = if images == 1 {
                            grad_out
                        } else {
                            let dy = sized(dy_chunk, op.chan_out * ld);
                            transpose_chunk(images, op.chan_out, op.pixels(), grad_out, dy, true);
                            &*dy
                        };
                        let dcol = sized(dcol, if grad_img.is_some() { op.groups * k * ld } else { 0 });
                        for g in 0..op.groups {
                            // dW_g (O/G x CKK/G) += dy_g (O/G x N) · col_gᵀ (N x CKK/G)
                            Self::matmul_serial(
                                (m, ld, k),
                                true,
                                dy[g * m * ld..].as_ptr(),
                                [ld, 1],
                                col[g * k * ld..].as_ptr(),
                                [1, ld],
                                dw[g * m * k..].as_mut_ptr(),
                                [k, 1],
                            );
                            if grad_img.is_none() {
                                continue;
                            }
                            // dcol_g (CKK/G x N) = W_gᵀ (CKK/G x O/G) · dy_g (O/G x N)
                            Self::matmul_serial(
                                (k, m, ld),
                                false,
                                filters[g * m * k..].as_ptr(),
                                [1, k],
                                dy[g * m * ld..].as_ptr(),
                                [ld, 1],
                                dcol[g * k * ld..].as_mut_ptr(),
                                [ld, 1],
                            );
                        }
                        if let Some(grad_img) = grad_img {
                            for (i, grad_img) in grad_img.chunks_exact_mut(op.in_len()).enumerate() {
                                op.col2im_add(&mut dcol[i * op.pixels()..], ld, grad_img);
                            }
                        }
                    }
                    dw
                },
            )
            .collect();
        // Each element sums the parts in part order, whichever thread adds.
        grad_filters.par_chunks_mut(4096).enumerate().for_each(|(i, g)| {
            for dw in &partial {
                g.iter_mut().zip(&dw[i * 4096..]).for_each(|(g, d)| *g += *d);
            }
        });
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
        self.backward_fast(&op, img, Some(&mut grad_lhs[..]), rhs.data.as_ref(), &mut grad_rhs[..], &grad_out[..]);
        Ok(())
    }

    fn backward_filters<L: Shape, R: Shape, O: Shape>(
        &self,
        op: Conv2DOp,
        lhs: &Tensor<L, E, Self>,
        rhs: &Tensor<R, E, Self>,
        grad_rhs: &mut Self::Vec,
        out: &impl Tensorlike<O, E, Self>,
        grad_out: &Self::Vec,
    ) -> Result<(), Self::Err> {
        if USE_RELEASED.load(Ordering::Relaxed) {
            let mut scratch = crate::tensor::storage_traits::AllocGrad::try_alloc_grad(lhs)?;
            return self.backward_released(op, lhs, &mut scratch, rhs, grad_rhs, out, grad_out);
        }
        let img = &lhs.data[..op.batch * op.in_len()];
        self.backward_fast(&op, img, None, rhs.data.as_ref(), &mut grad_rhs[..], &grad_out[..]);
        Ok(())
    }
}
