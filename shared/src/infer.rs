//! int8 inference of a parsed model on one image, inside one caller-provided
//! buffer laid out by the [`MemoryPlan`]. Host and firmware run this same code,
//! so their results are bit-identical. The image is one byte per input value,
//! CHW, already resized to the spec's input shape.

use crate::format::{InputQuant, LayerQuant, Model};
use crate::kernels::conv_i8::{conv2d_i8_on, dense_i8_batch_on, DENSE_BATCH};
use crate::kernels::lrn_i8::lrn_i8;
use crate::kernels::pool_i8::max_pool_i8;
use crate::layers::conv::conv2d_i8_ref;
use crate::layers::lrn::lrn_i8_channels;
use crate::layers::pool::{avg_pool_i8, max_pool};
use crate::layers::softmax::top_k;
use crate::parallel::{run_on_ranges, share, OneCore, Workers};
use crate::plan::{MemoryPlan, Step};
use crate::quant::requantize;
use crate::spec::{Layer, LayerInfo, Shape, SpecError};
use core::fmt;
use core::ops::Range;
use heapless::Vec;

/// One ranked class: its index and its int8 logit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prediction {
    pub class: u16,
    pub logit: i8,
}

pub type Top5 = Vec<Prediction, 5>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InferError {
    /// The caller's buffer is smaller than the plan needs.
    BufferTooSmall {
        needed: usize,
        found: usize,
    },
    /// The image does not have the spec's number of input values.
    ImageSize {
        expected: usize,
        found: usize,
    },
    BadSpec(SpecError),
}

impl core::error::Error for InferError {}

impl fmt::Display for InferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InferError::BufferTooSmall { needed, found } => {
                write!(f, "inference buffer too small: needs {needed} bytes, has {found}")
            }
            InferError::ImageSize { expected, found } => {
                write!(f, "image has {found} values, the model takes {expected}")
            }
            InferError::BadSpec(e) => write!(f, "{e}"),
        }
    }
}

/// Which kernel family runs: the fast ones (default) or the references they
/// are tested against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kernels {
    #[default]
    Fast,
    Reference,
}

/// A model prepared for inference: its plan is computed once.
pub struct Engine<'m> {
    model: &'m Model<'m>,
    plan: MemoryPlan,
    kernels: Kernels,
}

/// Splits the buffer into a layer's input, its output and the scratch area.
fn split<'b>(buf: &'b mut [u8], step: &Step, scratch_offset: usize) -> (&'b [i8], &'b mut [i8], &'b mut [i8]) {
    let (arena, scratch) = buf.split_at_mut(scratch_offset);
    let (input, output) = if step.input_offset < step.output_offset {
        let (lo, hi) = arena.split_at_mut(step.output_offset);
        (&lo[step.input_offset..step.input_offset + step.input_len], &mut hi[..step.output_len])
    } else {
        let (lo, hi) = arena.split_at_mut(step.input_offset);
        (&hi[..step.input_len], &mut lo[step.output_offset..step.output_offset + step.output_len])
    };
    (bytemuck::cast_slice(input), bytemuck::cast_slice_mut(output), bytemuck::cast_slice_mut(scratch))
}

/// Splits a layer's output channels over `workers`; `task(channels, out)`
/// writes the `plane` values of each channel in `channels` to `out`.
fn by_channels(
    workers: &dyn Workers,
    channels: usize,
    plane: usize,
    output: &mut [i8],
    task: impl Fn(Range<usize>, &mut [i8]) + Sync,
) {
    let parts = workers.parts();
    let mine = |part| share(channels, part, parts);
    run_on_ranges(
        workers,
        output,
        |part| mine(part).start * plane..mine(part).end * plane,
        |part, out| task(mine(part), out),
    );
}

/// Pixels (0..=255) to the first layer's int8 input, in place, split over
/// `workers` by ranges of values.
fn quantize_input(q: &InputQuant, plane_len: usize, region: &mut [u8], workers: &dyn Workers) {
    let (len, parts) = (region.len(), workers.parts());
    run_on_ranges(
        workers,
        region,
        |part| share(len, part, parts),
        |part, values| {
            let first = share(len, part, parts).start;
            for (i, v) in values.iter_mut().enumerate() {
                let c = (first + i) / plane_len;
                let x = requantize(*v as i32 - q.mean[c], q.requant[c]) + q.output.zero_point;
                *v = x.clamp(-128, 127) as i8 as u8;
            }
        },
    );
}

impl<'m> Engine<'m> {
    pub fn new(model: &'m Model<'m>) -> Result<Self, InferError> {
        let plan = MemoryPlan::new(model.spec()).map_err(InferError::BadSpec)?;
        Ok(Engine { model, plan, kernels: Kernels::Fast })
    }

    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    pub fn plan(&self) -> &MemoryPlan {
        &self.plan
    }

    pub fn model(&self) -> &Model<'m> {
        self.model
    }

    /// Bytes of the buffer [`run`](Engine::run) needs.
    pub fn buffer_len(&self) -> usize {
        self.plan.total_len()
    }

    /// Where to write the image for [`run_in_place`](Engine::run_in_place)
    /// (lets a device receive an image straight into the arena).
    pub fn input_region<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8], InferError> {
        self.check_buffer(buf)?;
        Ok(&mut buf[self.plan.input_range()])
    }

    /// The int8 logits left by the last run.
    pub fn logits<'b>(&self, buf: &'b [u8]) -> &'b [i8] {
        bytemuck::cast_slice(&buf[self.plan.output_range()])
    }

    fn check_buffer(&self, buf: &[u8]) -> Result<(), InferError> {
        let needed = self.buffer_len();
        if buf.len() < needed {
            return Err(InferError::BufferTooSmall { needed, found: buf.len() });
        }
        Ok(())
    }

    /// Copies `image` in and runs.
    pub fn run(&self, image: &[u8], buf: &mut [u8]) -> Result<Top5, InferError> {
        let region = self.input_region(buf)?;
        if image.len() != region.len() {
            return Err(InferError::ImageSize { expected: region.len(), found: image.len() });
        }
        region.copy_from_slice(image);
        self.run_in_place(buf)
    }

    /// Runs on the image already written to [`input_region`](Engine::input_region).
    pub fn run_in_place(&self, buf: &mut [u8]) -> Result<Top5, InferError> {
        self.run_in_place_observed(buf, |_| {})
    }

    /// [`run_in_place`](Engine::run_in_place), calling `after_layer(index)`
    /// as each layer finishes (input quantization counts as layer 0's), e.g.
    /// to read a cycle counter.
    pub fn run_in_place_observed(&self, buf: &mut [u8], after_layer: impl FnMut(usize)) -> Result<Top5, InferError> {
        self.run_in_place_on(buf, &OneCore, after_layer)
    }

    /// [`run_in_place_observed`](Engine::run_in_place_observed) with each
    /// layer's work split over `workers`; the result is the same bits
    /// whatever their number.
    pub fn run_in_place_on(
        &self,
        buf: &mut [u8],
        workers: &dyn Workers,
        mut after_layer: impl FnMut(usize),
    ) -> Result<Top5, InferError> {
        self.check_buffer(buf)?;
        let spec = self.model.spec();
        let plane = spec.input.h as usize * spec.input.w as usize;
        quantize_input(&self.model.meta().input, plane, &mut buf[self.plan.input_range()], workers);
        for ((info, quant), step) in spec.walk().zip(&self.model.meta().layers).zip(&self.plan.steps) {
            self.run_layer(&info, quant, step, buf, workers);
            after_layer(info.index);
        }
        Ok(self.top5(buf))
    }

    /// The five largest int8 logits left by the last run, ties to the lower
    /// class.
    pub fn top5(&self, buf: &[u8]) -> Top5 {
        let logits = self.logits(buf);
        top_k::<i8, 5>(logits).iter().map(|&c| Prediction { class: c as u16, logit: logits[c] }).collect()
    }

    /// Runs the image written to each buffer's
    /// [`input_region`](Engine::input_region), on one core, layer by layer
    /// over all of them: dense layers take [`DENSE_BATCH`] images at a time
    /// and read each weight once for all of them (on the paper network the
    /// dense weights are 58 MB, read per image otherwise). Each buffer ends
    /// exactly as [`run_in_place`](Engine::run_in_place) leaves it; read its
    /// answer with [`top5`](Engine::top5) or [`logits`](Engine::logits).
    pub fn run_batch_in_place(&self, bufs: &mut [&mut [u8]]) -> Result<(), InferError> {
        self.run_batch_in_place_on(bufs, &OneCore, |_| {})
    }

    /// [`run_batch_in_place`](Engine::run_batch_in_place) with each layer's
    /// work split over `workers` (for each image in turn, and for a dense
    /// layer over all of them at once), calling `after_layer(index)` when a
    /// layer has run on every image. The answers are the same bits whatever
    /// the number of workers or images.
    pub fn run_batch_in_place_on(
        &self,
        bufs: &mut [&mut [u8]],
        workers: &dyn Workers,
        mut after_layer: impl FnMut(usize),
    ) -> Result<(), InferError> {
        for buf in bufs.iter() {
            self.check_buffer(buf)?;
        }
        let spec = self.model.spec();
        let plane = spec.input.h as usize * spec.input.w as usize;
        for buf in bufs.iter_mut() {
            quantize_input(&self.model.meta().input, plane, &mut buf[self.plan.input_range()], workers);
        }
        let scratch_offset = self.plan.scratch_offset;
        for ((info, quant), step) in spec.walk().zip(&self.model.meta().layers).zip(&self.plan.steps) {
            match (info.layer, quant, self.kernels) {
                (Layer::Dense(_), LayerQuant::Dense(w), Kernels::Fast) => {
                    let params = self.model.weighted_params(&info, w);
                    for group in bufs.chunks_mut(DENSE_BATCH) {
                        let mut inputs: Vec<&[i8], DENSE_BATCH> = Vec::new();
                        let mut outputs: Vec<&mut [i8], DENSE_BATCH> = Vec::new();
                        let mut scratch = None;
                        for buf in group.iter_mut() {
                            let (input, output, s) = split(buf, step, scratch_offset);
                            // At most DENSE_BATCH buffers per group: the pushes fit.
                            let _ = (inputs.push(input), outputs.push(output));
                            scratch.get_or_insert(s);
                        }
                        if let Some(scratch) = scratch {
                            dense_i8_batch_on(&params, &inputs, &mut outputs, scratch, workers);
                        }
                    }
                }
                _ => bufs.iter_mut().for_each(|buf| self.run_layer(&info, quant, step, buf, workers)),
            }
            after_layer(info.index);
        }
        Ok(())
    }

    /// One layer of one image, its work split over `workers`.
    fn run_layer(&self, info: &LayerInfo, quant: &LayerQuant, step: &Step, buf: &mut [u8], workers: &dyn Workers) {
        let (input, output, scratch) = split(buf, step, self.plan.scratch_offset);
        match (info.layer, quant) {
            (Layer::Conv(_), LayerQuant::Conv(w)) | (Layer::Dense(_), LayerQuant::Dense(w)) => {
                let params = self.model.weighted_params(info, w);
                match self.kernels {
                    Kernels::Fast => conv2d_i8_on(&params, input, output, scratch, workers),
                    Kernels::Reference => conv2d_i8_ref(&params, input, output),
                }
            }
            (Layer::Lrn(l), LayerQuant::Lrn(q)) => {
                let params = self.model.lrn_params(l.size, q);
                let plane = info.input.h as usize * info.input.w as usize;
                by_channels(workers, info.input.c as usize, plane, output, |channels, out| match self.kernels {
                    Kernels::Fast => lrn_i8(&params, info.input, input, channels, out),
                    Kernels::Reference => lrn_i8_channels(&params, info.input, input, channels, out),
                })
            }
            (Layer::MaxPool(p), LayerQuant::MaxPool(_)) => {
                let (in_plane, out_plane) = (info.input.h * info.input.w, info.output.h * info.output.w);
                by_channels(workers, info.input.c as usize, out_plane as usize, output, |channels, out| {
                    let part = Shape::new(channels.len() as u32, info.input.h, info.input.w);
                    let plane = in_plane as usize;
                    let input = &input[channels.start * plane..channels.end * plane];
                    match self.kernels {
                        Kernels::Fast => max_pool_i8(&p, part, input, out),
                        Kernels::Reference => max_pool(&p, part, input, out),
                    }
                })
            }
            (Layer::AvgPool(p), LayerQuant::AvgPool(_)) => {
                let in_plane = info.input.h as usize * info.input.w as usize;
                let out_plane = info.output.h as usize * info.output.w as usize;
                by_channels(workers, info.input.c as usize, out_plane, output, |channels, out| {
                    let part = Shape::new(channels.len() as u32, info.input.h, info.input.w);
                    avg_pool_i8(&p, part, &input[channels.start * in_plane..channels.end * in_plane], out)
                })
            }
            // `Model::parse` checked that quantization follows the spec.
            _ => unreachable!("layer kinds validated at parse"),
        }
    }
}
