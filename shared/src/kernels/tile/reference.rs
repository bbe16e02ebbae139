//! The plain definitions every GEMM micro-kernel is held to: the tile and
//! panel-vector sums, and the output stage that turns a panel's sums into
//! int8 (see [`super`] for the layouts).

use crate::layers::packed::{PANEL_DEPTH, PANEL_ROWS};
use crate::quant::{output_i8, Requant};

/// im2col columns per tile.
pub const TILE_COLS: usize = 4;

/// The output stage of one weight panel's rows: each row's bias (with the
/// zero-point correction folded in) and fixed-point multiplier and shift,
/// then the output zero point and the activation clamp. Rows past the end of
/// the layer repeat a real row; their results are dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowStage {
    pub bias: [i32; PANEL_ROWS],
    pub multiplier: [i32; PANEL_ROWS],
    pub shift: [i32; PANEL_ROWS],
    pub output_offset: i32,
    pub act_min: i32,
    pub act_max: i32,
}

impl RowStage {
    /// Plain definition: row `r`'s sum to its int8 output.
    #[inline(always)]
    pub fn apply_ref(&self, r: usize, acc: i32) -> i8 {
        let rq = Requant { multiplier: self.multiplier[r], shift: self.shift[r] };
        output_i8(acc.wrapping_add(self.bias[r]), rq, self.output_offset, self.act_min, self.act_max)
    }

    /// A tile's sums (row by row) to int8, one value at a time.
    pub fn apply_to_tile(&self, acc: [[i32; TILE_COLS]; PANEL_ROWS]) -> [[i8; TILE_COLS]; PANEL_ROWS] {
        core::array::from_fn(|r| acc[r].map(|a| self.apply_ref(r, a)))
    }

    /// A panel-vector product's sums (one per row) to int8.
    pub fn apply_to_rows(&self, acc: [i32; PANEL_ROWS]) -> [i8; PANEL_ROWS] {
        core::array::from_fn(|r| self.apply_ref(r, acc[r]))
    }
}

/// Plain definition: `acc[r][c] = sum_k w(r, k) * x(c, k)`.
pub fn tile_ref(w: &[i8], x: &[i8]) -> [[i32; TILE_COLS]; PANEL_ROWS] {
    assert_eq!(w.len() / PANEL_ROWS, x.len() / TILE_COLS, "tile panel depths");
    let mut acc = [[0i32; TILE_COLS]; PANEL_ROWS];
    for (ws, xs) in w.chunks_exact(PANEL_ROWS * PANEL_DEPTH).zip(x.chunks_exact(TILE_COLS * PANEL_DEPTH)) {
        for (r, row) in acc.iter_mut().enumerate() {
            for (c, sum) in row.iter_mut().enumerate() {
                for k in 0..PANEL_DEPTH {
                    *sum += ws[r * PANEL_DEPTH + k] as i32 * xs[c * PANEL_DEPTH + k] as i32;
                }
            }
        }
    }
    acc
}

/// Plain definition: `acc[r] = sum_k w(r, k) * x[k]`.
pub fn panel_dot_ref(w: &[i8], x: &[i8]) -> [i32; PANEL_ROWS] {
    assert_eq!(w.len(), PANEL_ROWS * x.len(), "panel and vector depths");
    let mut acc = [0i32; PANEL_ROWS];
    for (ws, xs) in w.chunks_exact(PANEL_ROWS * PANEL_DEPTH).zip(x.chunks_exact(PANEL_DEPTH)) {
        for (r, sum) in acc.iter_mut().enumerate() {
            for k in 0..PANEL_DEPTH {
                *sum += ws[r * PANEL_DEPTH + k] as i32 * xs[k] as i32;
            }
        }
    }
    acc
}
