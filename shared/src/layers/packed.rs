//! The order int8 weights of a convolution or dense layer are stored in (model
//! file version 2) and read by the GEMM kernels, so the board streams them in
//! place, never repacking.
//!
//! Per group, the `[out][patch]` weight matrix is cut into panels of
//! [`PANEL_ROWS`] output channels; a panel holds its rows' first
//! [`PANEL_DEPTH`] values side by side (row 0's 16, row 1's 16, ...), then the
//! next 16, and so on. Rows and depth are padded with zero weights, which add
//! nothing to any sum. One 16-byte load then gives one row's next 16 weights,
//! exactly what a NEON multiply-accumulate step takes.
//!
//! Weights are int8 in `-127..=127` (symmetric quantization never produces
//! -128): two products of such a weight with any int8 fit in int16, which the
//! board's kernel relies on. [`crate::Model::parse`] refuses files that break
//! it.

use super::conv::ConvGeometry;
#[cfg(any(feature = "alloc", test))]
extern crate alloc;

/// Output channels per weight panel (the kernel's tile rows).
pub const PANEL_ROWS: usize = 4;
/// Weights of one row read per step (one 128-bit register of int8).
pub const PANEL_DEPTH: usize = 16;

/// Shape of a packed weight tensor, from the layer's geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackedLayout {
    pub groups: usize,
    /// Output channels per group.
    pub rows: usize,
    /// Inputs one output sums over (the patch length).
    pub depth: usize,
}

impl PackedLayout {
    pub fn new(g: &ConvGeometry) -> Self {
        PackedLayout { groups: g.groups, rows: g.out_per_group(), depth: g.patch_len() }
    }

    /// Panels per group.
    pub fn panels(&self) -> usize {
        self.rows.div_ceil(PANEL_ROWS)
    }

    /// Depth rounded up to whole steps.
    pub fn padded_depth(&self) -> usize {
        self.depth.next_multiple_of(PANEL_DEPTH)
    }

    pub fn panel_len(&self) -> usize {
        PANEL_ROWS * self.padded_depth()
    }

    /// Elements of the packed tensor.
    pub fn len(&self) -> usize {
        self.groups * self.panels() * self.panel_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Position of weight `(channel, k)` (channel counted over all groups,
    /// `k` in `0..depth`).
    #[inline(always)]
    pub fn index(&self, channel: usize, k: usize) -> usize {
        let (group, row) = (channel / self.rows, channel % self.rows);
        let panel = group * self.panels() + row / PANEL_ROWS;
        panel * self.panel_len() + (k / PANEL_DEPTH * PANEL_ROWS + row % PANEL_ROWS) * PANEL_DEPTH + k % PANEL_DEPTH
    }
}

/// A layer's packed weights and each output channel's weight sum (the sum
/// the input zero point multiplies; stored so no kernel recomputes it).
#[derive(Clone, Copy, Debug)]
pub struct PackedWeights<'a> {
    pub layout: PackedLayout,
    pub data: &'a [i8],
    pub sums: &'a [i32],
}

impl<'a> PackedWeights<'a> {
    /// Weight `(channel, k)`; what the reference kernels read.
    #[inline(always)]
    pub fn at(&self, channel: usize, k: usize) -> i8 {
        self.data[self.layout.index(channel, k)]
    }

    /// Panel `panel` of group `group`.
    pub fn panel(&self, group: usize, panel: usize) -> &'a [i8] {
        let len = self.layout.panel_len();
        let start = (group * self.layout.panels() + panel) * len;
        &self.data[start..start + len]
    }
}

/// Packs OIHW (dense: `[out][in]`) weights and returns them with their
/// per-channel sums.
#[cfg(any(feature = "alloc", test))]
pub fn pack_weights(g: &ConvGeometry, oihw: &[i8]) -> (alloc::vec::Vec<i8>, alloc::vec::Vec<i32>) {
    let layout = PackedLayout::new(g);
    assert_eq!(oihw.len(), g.weight_len(), "weights do not match the geometry");
    let mut packed = alloc::vec![0i8; layout.len()];
    let channels = g.output.c as usize;
    let mut sums = alloc::vec![0i32; channels];
    for (c, sum) in sums.iter_mut().enumerate() {
        for k in 0..layout.depth {
            let w = oihw[c * layout.depth + k];
            packed[layout.index(c, k)] = w;
            *sum += w as i32;
        }
    }
    (packed, sums)
}

/// OIHW weights back from their packed form (reports, tests).
#[cfg(any(feature = "alloc", test))]
pub fn unpack_weights(w: &PackedWeights) -> alloc::vec::Vec<i8> {
    let l = w.layout;
    let channels = l.groups * l.rows;
    (0..channels * l.depth).map(|i| w.at(i / l.depth, i % l.depth)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Shape;

    fn geometry(groups: usize, in_c: u32, out_c: u32, kernel: usize) -> ConvGeometry {
        ConvGeometry {
            input: Shape::new(in_c, 8, 8),
            output: Shape::new(out_c, 8, 8),
            kernel,
            stride: 1,
            padding: kernel / 2,
            groups,
        }
    }

    #[test]
    fn packing_round_trips_and_pads_with_zeros() {
        for (groups, in_c, out_c, k) in [(1, 3, 5, 3), (2, 4, 6, 1), (2, 6, 18, 5), (1, 16, 4, 1)] {
            let g = geometry(groups, in_c, out_c, k);
            let oihw: std::vec::Vec<i8> = (0..g.weight_len()).map(|i| ((i % 251) as i32 - 125) as i8).collect();
            let (packed, sums) = pack_weights(&g, &oihw);
            let w = PackedWeights { layout: PackedLayout::new(&g), data: &packed, sums: &sums };
            assert_eq!(unpack_weights(&w), oihw);
            let patch = g.patch_len();
            for (c, s) in sums.iter().enumerate() {
                assert_eq!(*s, oihw[c * patch..(c + 1) * patch].iter().map(|v| *v as i32).sum::<i32>());
            }
            // Everything the round trip did not read is padding, and zero.
            let nonzero_in = oihw.iter().filter(|v| **v != 0).count();
            assert_eq!(packed.iter().filter(|v| **v != 0).count(), nonzero_in);
        }
    }

    #[test]
    fn a_panel_step_holds_each_rows_next_sixteen_weights() {
        let g = geometry(1, 2, 4, 3); // depth 18: two steps, the second padded
        let l = PackedLayout::new(&g);
        assert_eq!((l.panels(), l.padded_depth(), l.len()), (1, 32, 128));
        assert_eq!(l.index(0, 0), 0);
        assert_eq!(l.index(1, 0), 16);
        assert_eq!(l.index(3, 15), 63);
        assert_eq!(l.index(0, 16), 64);
        assert_eq!(l.index(2, 17), 64 + 32 + 1);
    }
}
