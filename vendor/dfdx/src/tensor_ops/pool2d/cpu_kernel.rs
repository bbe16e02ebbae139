use crate::{shapes::*, tensor::*};

use std::sync::Arc;

use rayon::prelude::*;

use num_traits::{Float, FromPrimitive};

fn make_4d<S: Shape>(strides: S::Concrete) -> [usize; 4] {
    match S::NUM_DIMS {
        3 => [0, strides[0], strides[1], strides[2]],
        4 => [strides[0], strides[1], strides[2], strides[3]],
        _ => panic!("Only implemented for 3d & 4d arrays"),
    }
}

impl super::Pool2DKind {
    fn init<E: Float>(&self) -> E {
        match self {
            super::Pool2DKind::Avg => E::zero(),
            super::Pool2DKind::Min => E::infinity(),
            super::Pool2DKind::Max => E::neg_infinity(),
        }
    }

    fn accum<E: Float>(&self, accum: &E, item: &E) -> E {
        match self {
            super::Pool2DKind::Avg => *accum + *item,
            super::Pool2DKind::Min => accum.min(*item),
            super::Pool2DKind::Max => accum.max(*item),
        }
    }

    fn normalize<E: Float + FromPrimitive>(&self, item: E, num_elements: usize) -> E {
        match self {
            super::Pool2DKind::Avg => item * E::from_f64(1.0 / num_elements as f64).unwrap(),
            super::Pool2DKind::Min => item,
            super::Pool2DKind::Max => item,
        }
    }

    fn filter<E: Float>(&self, item: E, needle: E, haystack: E) -> E {
        match self {
            super::Pool2DKind::Avg => item,
            super::Pool2DKind::Min => {
                if needle == haystack {
                    item
                } else {
                    E::zero()
                }
            }
            super::Pool2DKind::Max => {
                if needle == haystack {
                    item
                } else {
                    E::zero()
                }
            }
        }
    }
}

static USE_RELEASED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Selects dfdx 0.13.0's released single-threaded CPU pooling (`true`) or
/// the plane-parallel one (`false`, the default), process-wide: for tests and
/// benchmarks that compare the two.
pub fn use_released_cpu_pool2d(released: bool) {
    USE_RELEASED.store(released, std::sync::atomic::Ordering::Relaxed);
}

fn released() -> bool {
    USE_RELEASED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Both tensors dense NCHW (or CHW), so each (image, channel) plane is one
/// contiguous slice and planes can go to different threads.
fn contiguous(op: &super::Pool2DOp, istr: [usize; 4], ostr: [usize; 4]) -> bool {
    let (ip, op_) = (op.h_in * op.w_in, op.h_out * op.w_out);
    let batch_ok = op.batch == 1 || (istr[0] == op.chan * ip && ostr[0] == op.chan * op_);
    batch_ok && istr[1..] == [ip, op.w_in, 1] && ostr[1..] == [op_, op.w_out, 1]
}

/// Input coordinate of output `o` and kernel tap `k`, if inside the input.
/// `INSIDE`: the caller knows every tap is (see `taps_inside`), and the
/// bounds logic, most of the work of AlexNet's 3x3/2 pools (14% of a step of
/// the scaled network), compiles away.
#[inline(always)]
fn tap<const INSIDE: bool>(op: &super::Pool2DOp, o: usize, k: usize, len: usize) -> Option<usize> {
    if INSIDE {
        Some(o * op.stride + op.dilation * k)
    } else {
        (o * op.stride + op.dilation * k).checked_sub(op.padding).filter(|&v| v < len)
    }
}

/// Every tap of every output lies inside the input (no padding, and the last
/// window ends inside).
fn taps_inside(op: &super::Pool2DOp) -> bool {
    let last = |outs: usize| (outs.max(1) - 1) * op.stride + op.dilation * (op.kernel.max(1) - 1);
    op.padding == 0 && last(op.h_out) < op.h_in && last(op.w_out) < op.w_in
}

/// One plane of the released forward, same visiting order (same result).
fn forward_plane<E: Float + FromPrimitive + Dtype>(op: &super::Pool2DOp, inp: &[E], out: &mut [E]) {
    if taps_inside(op) {
        forward_plane_taps::<E, true>(op, inp, out)
    } else {
        forward_plane_taps::<E, false>(op, inp, out)
    }
}

fn forward_plane_taps<E: Float + FromPrimitive + Dtype, const INSIDE: bool>(
    op: &super::Pool2DOp,
    inp: &[E],
    out: &mut [E],
) {
    for oh in 0..op.h_out {
        for ow in 0..op.w_out {
            let mut tmp = op.kind.init();
            for k1 in 0..op.kernel {
                let Some(y) = tap::<INSIDE>(op, oh, k1, op.h_in) else { continue };
                for k2 in 0..op.kernel {
                    if let Some(x) = tap::<INSIDE>(op, ow, k2, op.w_in) {
                        tmp = op.kind.accum(&tmp, &inp[y * op.w_in + x]);
                    }
                }
            }
            out[oh * op.w_out + ow] = op.kind.normalize(tmp, op.kernel * op.kernel);
        }
    }
}

/// One plane of the released backward, same accumulation order.
fn backward_plane<E: Float + FromPrimitive + Dtype>(
    op: &super::Pool2DOp,
    inp: &[E],
    grad_inp: &mut [E],
    out: &[E],
    grad_out: &[E],
) {
    if taps_inside(op) {
        backward_plane_taps::<E, true>(op, inp, grad_inp, out, grad_out)
    } else {
        backward_plane_taps::<E, false>(op, inp, grad_inp, out, grad_out)
    }
}

fn backward_plane_taps<E: Float + FromPrimitive + Dtype, const INSIDE: bool>(
    op: &super::Pool2DOp,
    inp: &[E],
    grad_inp: &mut [E],
    out: &[E],
    grad_out: &[E],
) {
    for oh in 0..op.h_out {
        for ow in 0..op.w_out {
            let go = op.kind.normalize(grad_out[oh * op.w_out + ow], op.kernel * op.kernel);
            let vo = out[oh * op.w_out + ow];
            for k1 in 0..op.kernel {
                let Some(y) = tap::<INSIDE>(op, oh, k1, op.h_in) else { continue };
                for k2 in 0..op.kernel {
                    if let Some(x) = tap::<INSIDE>(op, ow, k2, op.w_in) {
                        let i = y * op.w_in + x;
                        grad_inp[i] += op.kind.filter(go, inp[i], vo);
                    }
                }
            }
        }
    }
}

impl<E: Float + Dtype> super::Pool2DKernel<E> for Cpu {
    fn alloc<S: Shape>(&self, s: S) -> Result<Tensor<S, E, Self>, Self::Err> {
        self.try_zeros_like(&s)
    }
    fn forward<I: Shape, O: Shape>(
        &self,
        op: super::Pool2DOp,
        inp: &Tensor<I, E, Self>,
        out: &mut Tensor<O, E, Self>,
    ) -> Result<(), Self::Err> {
        let istr = make_4d::<I>(inp.strides);
        let ostr = make_4d::<O>(out.strides);
        if !released() && contiguous(&op, istr, ostr) {
            let (ip, op_) = (op.h_in * op.w_in, op.h_out * op.w_out);
            let buf = inp.data.as_ref();
            Arc::make_mut(&mut out.data)
                .par_chunks_mut(op_)
                .zip(buf.par_chunks(ip))
                .for_each(|(o, i)| forward_plane(&op, i, o));
            return Ok(());
        }

        let buf = inp.data.as_ref();
        let out_buf = Arc::make_mut(&mut out.data);
        for b in 0..op.batch {
            for c in 0..op.chan {
                for oh in 0..op.h_out {
                    for ow in 0..op.w_out {
                        let mut tmp = op.kind.init();
                        for k1 in 0..op.kernel {
                            let y = (oh * op.stride + op.dilation * k1).checked_sub(op.padding);
                            for k2 in 0..op.kernel {
                                let x = (ow * op.stride + op.dilation * k2).checked_sub(op.padding);
                                if let Some((y, x)) = y.zip(x) {
                                    if y < op.h_in && x < op.w_in {
                                        let inp_idx =
                                            b * istr[0] + c * istr[1] + y * istr[2] + x * istr[3];
                                        tmp = op.kind.accum(&tmp, &buf[inp_idx]);
                                    }
                                }
                            }
                        }
                        tmp = op.kind.normalize(tmp, op.kernel * op.kernel);
                        out_buf[b * ostr[0] + c * ostr[1] + oh * ostr[2] + ow * ostr[3]] = tmp;
                    }
                }
            }
        }
        Ok(())
    }
    fn backward<I: Shape, O: Shape>(
        &self,
        op: super::Pool2DOp,
        inp: &Tensor<I, E, Self>,
        grad_inp: &mut Self::Vec,
        out: &Tensor<O, E, Self>,
        grad_out: &Self::Vec,
    ) -> Result<(), Self::Err> {
        let istr = make_4d::<I>(inp.strides);
        let ostr = make_4d::<O>(out.strides);

        let inp_buf = inp.data.as_ref();
        let out_buf = out.data.as_ref();
        if !released() && contiguous(&op, istr, ostr) {
            let (ip, op_) = (op.h_in * op.w_in, op.h_out * op.w_out);
            grad_inp
                .par_chunks_mut(ip)
                .zip(inp_buf.par_chunks(ip))
                .zip(out_buf.par_chunks(op_).zip(grad_out.par_chunks(op_)))
                .for_each(|((gi, i), (o, go))| backward_plane(&op, i, gi, o, go));
            return Ok(());
        }

        for b in 0..op.batch {
            for c in 0..op.chan {
                for oh in 0..op.h_out {
                    for ow in 0..op.w_out {
                        let out_idx = b * ostr[0] + c * ostr[1] + oh * ostr[2] + ow * ostr[3];
                        let go = grad_out[out_idx];
                        let go = op.kind.normalize(go, op.kernel * op.kernel);
                        let vo = out_buf[out_idx];

                        for k1 in 0..op.kernel {
                            let y = (oh * op.stride + op.dilation * k1).checked_sub(op.padding);
                            for k2 in 0..op.kernel {
                                let x = (ow * op.stride + op.dilation * k2).checked_sub(op.padding);
                                if let Some((y, x)) = y.zip(x) {
                                    if x < op.w_in && y < op.h_in {
                                        let inp_idx =
                                            b * istr[0] + c * istr[1] + y * istr[2] + x * istr[3];
                                        grad_inp[inp_idx] +=
                                            op.kind.filter(go, inp_buf[inp_idx], vo);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
