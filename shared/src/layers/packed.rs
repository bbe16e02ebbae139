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

#[cfg(any(feature = "alloc", test))]
extern crate alloc;

/// Output channels per weight panel (the kernel's tile rows).
pub const PANEL_ROWS: usize = 4;
/// Weights of one row read per step (one 128-bit register of int8).
pub const PANEL_DEPTH: usize = 16;

/// Shape of a packed weight tensor (a layer's is
/// `ConvGeometry::packed_layout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackedLayout {
    pub groups: usize,
    /// Output channels per group.
    pub rows: usize,
    /// Inputs one output sums over (the patch length).
    pub depth: usize,
}

impl PackedLayout {
    /// Output channels over all groups.
    pub fn channels(&self) -> usize {
        self.groups * self.rows
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

/// Packs OIHW (dense: `[out][in]`) weights into `layout` and returns them
/// with their per-channel sums.
#[cfg(any(feature = "alloc", test))]
pub fn pack_weights(layout: &PackedLayout, oihw: &[i8]) -> (alloc::vec::Vec<i8>, alloc::vec::Vec<i32>) {
    assert_eq!(oihw.len(), layout.channels() * layout.depth, "weights do not match the layout");
    let mut packed = alloc::vec![0i8; layout.len()];
    let mut sums = alloc::vec![0i32; layout.channels()];
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
    (0..l.channels() * l.depth).map(|i| w.at(i / l.depth, i % l.depth)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_and_pads_with_zeros() {
        // (groups, channels per group, depth): depth and rows below, at and
        // past whole panels and steps.
        for (groups, rows, depth) in [(1, 5, 27), (2, 3, 2), (2, 9, 75), (1, 4, 16)] {
            let layout = PackedLayout { groups, rows, depth };
            let oihw: std::vec::Vec<i8> =
                (0..layout.channels() * depth).map(|i| ((i % 251) as i32 - 125) as i8).collect();
            let (packed, sums) = pack_weights(&layout, &oihw);
            let w = PackedWeights { layout, data: &packed, sums: &sums };
            assert_eq!(unpack_weights(&w), oihw);
            for (c, s) in sums.iter().enumerate() {
                assert_eq!(*s, oihw[c * depth..(c + 1) * depth].iter().map(|v| *v as i32).sum::<i32>());
            }
            // Everything the round trip did not read is padding, and zero.
            let nonzero_in = oihw.iter().filter(|v| **v != 0).count();
            assert_eq!(packed.iter().filter(|v| **v != 0).count(), nonzero_in);
        }
    }

    #[test]
    fn a_panel_step_holds_each_rows_next_sixteen_weights() {
        let l = PackedLayout { groups: 1, rows: 4, depth: 18 }; // two steps, the second padded
        assert_eq!((l.panels(), l.padded_depth(), l.len()), (1, 32, 128));
        assert_eq!(l.index(0, 0), 0);
        assert_eq!(l.index(1, 0), 16);
        assert_eq!(l.index(3, 15), 63);
        assert_eq!(l.index(0, 16), 64);
        assert_eq!(l.index(2, 17), 64 + 32 + 1);
    }
}
