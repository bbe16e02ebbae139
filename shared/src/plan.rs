//! Static memory plan for int8 inference: one caller-provided byte buffer
//! holds every activation and the kernels' scratch, with no heap.
//!
//! Layout: `[ activation arena | scratch ]`. Inside the arena, layers
//! alternate ends: a layer whose input sits at the bottom writes its output
//! flush with the top, and the next layer reads it there and writes at the
//! bottom. Input and output of a layer therefore never overlap, and the arena
//! is exactly the largest input+output pair of any layer. The first layer's
//! input region doubles as the place where the raw image is written.

use crate::kernels::conv2d_i8_scratch_len;
use crate::kernels::conv_i8::dense_i8_batch_scratch_len;
use crate::layers::conv::ConvGeometry;
use crate::spec::{Layer, ModelSpec, SpecError, MAX_LAYERS};
use heapless::Vec;

/// Where one layer reads and writes, as byte ranges of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub input_offset: usize,
    pub input_len: usize,
    pub output_offset: usize,
    pub output_len: usize,
}

impl Step {
    pub fn input_range(&self) -> core::ops::Range<usize> {
        self.input_offset..self.input_offset + self.input_len
    }

    pub fn output_range(&self) -> core::ops::Range<usize> {
        self.output_offset..self.output_offset + self.output_len
    }
}

/// The working memory the firmware reserves for a plan ([`MemoryPlan::total_len`]):
/// the paper network needs 1.7 MB, so four of its images fit for a batch
/// (`link::Request::InferCardBatch`). `host flash` refuses a model whose plan
/// needs more, before building an image the board could not run.
pub const BOARD_ARENA_LEN: usize = 8 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    pub steps: Vec<Step, MAX_LAYERS>,
    /// Bytes of the activation arena.
    pub arena_len: usize,
    /// Bytes of kernel scratch, after the arena (16-byte aligned start).
    pub scratch_offset: usize,
    pub scratch_len: usize,
}

/// Scratch alignment; NEON loads on strict-align targets want 16.
const ALIGN: usize = 16;

const fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

impl MemoryPlan {
    pub fn new(spec: &ModelSpec) -> Result<MemoryPlan, SpecError> {
        spec.validate()?;
        let mut steps = Vec::new();
        let arena_len = spec.walk().map(|l| l.input.len() + l.output.len()).max().unwrap_or(0);
        let mut scratch_len = 0;
        let mut input_at_bottom = true;
        for l in spec.walk() {
            let (input_len, output_len) = (l.input.len(), l.output.len());
            let (input_offset, output_offset) =
                if input_at_bottom { (0, arena_len - output_len) } else { (arena_len - input_len, 0) };
            steps
                .push(Step { input_offset, input_len, output_offset, output_len })
                .map_err(|_| SpecError::TooManyLayers)?;
            input_at_bottom = !input_at_bottom;
            let scratch = match l.layer {
                Layer::Conv(c) => conv2d_i8_scratch_len(&ConvGeometry::new(l.input, l.output, &c)),
                // Enough for one image and for a batch (`Engine::run_batch_in_place_on`).
                Layer::Dense(_) => {
                    let g = ConvGeometry::dense(l.input.len(), l.output.len());
                    conv2d_i8_scratch_len(&g).max(dense_i8_batch_scratch_len(&g))
                }
                Layer::Lrn(_) | Layer::MaxPool(_) | Layer::AvgPool(_) => 0,
            };
            scratch_len = scratch_len.max(scratch);
        }
        let scratch_offset = align_up(arena_len);
        Ok(MemoryPlan { steps, arena_len, scratch_offset, scratch_len })
    }

    /// Total bytes the caller's buffer needs.
    pub fn total_len(&self) -> usize {
        self.scratch_offset + self.scratch_len
    }

    /// Where the image (one byte per input value) is written before a run.
    pub fn input_range(&self) -> core::ops::Range<usize> {
        self.steps.first().map(|s| s.input_range()).unwrap_or(0..0)
    }

    /// Where the logits are after a run.
    pub fn output_range(&self) -> core::ops::Range<usize> {
        self.steps.last().map(|s| s.output_range()).unwrap_or(0..0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{AlexNetConfig, Shape};

    fn ranges_overlap(a: &core::ops::Range<usize>, b: &core::ops::Range<usize>) -> bool {
        a.start < b.end && b.start < a.end
    }

    fn check(spec: &ModelSpec) -> MemoryPlan {
        let plan = MemoryPlan::new(spec).unwrap();
        let mut previous_output = None;
        for (s, l) in plan.steps.iter().zip(spec.walk()) {
            assert!(!ranges_overlap(&s.input_range(), &s.output_range()), "{}", l.name);
            assert!(s.input_range().end <= plan.arena_len && s.output_range().end <= plan.arena_len);
            assert_eq!((s.input_len, s.output_len), (l.input.len(), l.output.len()));
            if let Some(prev) = previous_output {
                assert_eq!(prev, s.input_range(), "{} reads where the previous layer wrote", l.name);
            }
            previous_output = Some(s.output_range());
        }
        assert!(plan.scratch_offset >= plan.arena_len && plan.scratch_offset.is_multiple_of(16));
        plan
    }

    #[test]
    fn paper_arena_is_the_largest_input_output_pair() {
        let spec = AlexNetConfig::paper().build().unwrap();
        let plan = check(&spec);
        // lrn1: 96x55x55 in and out.
        assert_eq!(plan.arena_len, 2 * 96 * 55 * 55);
        let largest_pair = spec.walk().map(|l| l.input.len() + l.output.len()).max().unwrap();
        assert_eq!(plan.arena_len, largest_pair);
        std::println!(
            "paper AlexNet: arena {} B, scratch {} B, total {} B",
            plan.arena_len,
            plan.scratch_len,
            plan.total_len()
        );
    }

    #[test]
    fn small_variants_plan_without_overlap() {
        for hw in [28, 32, 64, 96] {
            check(&AlexNetConfig::small(Shape::new(1, hw, hw), 10).build().unwrap());
            check(&AlexNetConfig::small(Shape::new(3, hw, hw), 100).with_width(0.5).build().unwrap());
        }
    }
}
