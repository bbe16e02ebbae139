//! The int8 GEMM micro-kernels: int32 sums of one weight panel (see
//! [`crate::layers::packed`]) against a panel of [`TILE_COLS`] im2col columns
//! (a 4x4 tile), or against one column (a panel-vector product for dense
//! layers). A column panel is laid out like a weight panel: per step of 16
//! depth values, column 0's 16 bytes, then column 1's, and so on.
//!
//! The fused forms (`tile_i8`, `panel_dot_i8`) also requantize the sums to
//! int8 with the panel's [`RowStage`], in registers on aarch64.
//!
//! `tile_ref`/`panel_dot_ref`/[`RowStage::apply_ref`] are the plain
//! definitions; the NEON forms (aarch64) and the portable ones (every other
//! host) are tested against them.

use crate::layers::packed::{PANEL_DEPTH, PANEL_ROWS};
use crate::quant::{requantize, Requant};

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
        let y = requantize(acc.wrapping_add(self.bias[r]), rq).wrapping_add(self.output_offset);
        y.clamp(self.act_min, self.act_max) as i8
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

#[cfg(target_arch = "aarch64")]
pub use super::aarch64::tile::{panel_dot, panel_dot_i8, tile, tile_i8};
#[cfg(target_arch = "x86_64")]
pub use super::x86_64::tile::{panel_dot, tile};
#[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
pub use portable::{panel_dot, panel_dot_i8, tile, tile_i8};

/// The sums of [`tile`], requantized with the scalar output stage.
#[cfg(target_arch = "x86_64")]
pub fn tile_i8(w: &[i8], x: &[i8], stage: &RowStage) -> [[i8; TILE_COLS]; PANEL_ROWS] {
    let acc = tile(w, x);
    core::array::from_fn(|r| acc[r].map(|a| stage.apply_ref(r, a)))
}

/// The sums of [`panel_dot`], requantized with the scalar output stage.
#[cfg(target_arch = "x86_64")]
pub fn panel_dot_i8(w: &[i8], x: &[i8], stage: &RowStage) -> [i8; PANEL_ROWS] {
    let acc = panel_dot(w, x);
    core::array::from_fn(|r| stage.apply_ref(r, acc[r]))
}

/// Written for LLVM's auto-vectorizer: products summed in pairs into int32
/// lanes (the shape of x86's `pmaddwd`), one lane array per output. The
/// fallback where no SIMD kernel applies.
#[cfg_attr(target_arch = "aarch64", allow(dead_code))]
pub mod portable {
    use super::{RowStage, PANEL_DEPTH, PANEL_ROWS, TILE_COLS};

    const PAIRS: usize = PANEL_DEPTH / 2;

    #[inline(always)]
    fn mac(acc: &mut [i32; PAIRS], w: &[i8], x: &[i8]) {
        for l in 0..PAIRS {
            acc[l] += w[2 * l] as i16 as i32 * x[2 * l] as i16 as i32
                + w[2 * l + 1] as i16 as i32 * x[2 * l + 1] as i16 as i32;
        }
    }

    pub fn tile(w: &[i8], x: &[i8]) -> [[i32; TILE_COLS]; PANEL_ROWS] {
        assert_eq!(w.len() / PANEL_ROWS, x.len() / TILE_COLS, "tile panel depths");
        let mut acc = [[[0i32; PAIRS]; TILE_COLS]; PANEL_ROWS];
        for (ws, xs) in w.chunks_exact(PANEL_ROWS * PANEL_DEPTH).zip(x.chunks_exact(TILE_COLS * PANEL_DEPTH)) {
            for (r, row) in acc.iter_mut().enumerate() {
                let wr = &ws[r * PANEL_DEPTH..][..PANEL_DEPTH];
                for (c, lanes) in row.iter_mut().enumerate() {
                    mac(lanes, wr, &xs[c * PANEL_DEPTH..][..PANEL_DEPTH]);
                }
            }
        }
        acc.map(|row| row.map(|lanes| lanes.iter().sum()))
    }

    pub fn panel_dot(w: &[i8], x: &[i8]) -> [i32; PANEL_ROWS] {
        assert_eq!(w.len(), PANEL_ROWS * x.len(), "panel and vector depths");
        let mut acc = [[0i32; PAIRS]; PANEL_ROWS];
        for (ws, xs) in w.chunks_exact(PANEL_ROWS * PANEL_DEPTH).zip(x.chunks_exact(PANEL_DEPTH)) {
            for (r, lanes) in acc.iter_mut().enumerate() {
                mac(lanes, &ws[r * PANEL_DEPTH..][..PANEL_DEPTH], xs);
            }
        }
        acc.map(|lanes| lanes.iter().sum())
    }

    pub fn tile_i8(w: &[i8], x: &[i8], stage: &RowStage) -> [[i8; TILE_COLS]; PANEL_ROWS] {
        let acc = tile(w, x);
        core::array::from_fn(|r| acc[r].map(|a| stage.apply_ref(r, a)))
    }

    pub fn panel_dot_i8(w: &[i8], x: &[i8], stage: &RowStage) -> [i8; PANEL_ROWS] {
        let acc = panel_dot(w, x);
        core::array::from_fn(|r| stage.apply_ref(r, acc[r]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Weights as the packer makes them: never -128.
    fn weight() -> impl Strategy<Value = i8> {
        -127i8..=127
    }

    proptest! {
        #[test]
        fn fast_tiles_equal_reference(
            steps in 0usize..6,
            seed in proptest::collection::vec(weight(), 6 * 64),
            cols in proptest::collection::vec(any::<i8>(), 6 * 64),
        ) {
            let (w, x) = (&seed[..steps * 64], &cols[..steps * 64]);
            let want = tile_ref(w, x);
            prop_assert_eq!(tile(w, x), want);
            prop_assert_eq!(portable::tile(w, x), want);
            let v = &cols[..steps * 16];
            let want = panel_dot_ref(w, v);
            prop_assert_eq!(panel_dot(w, v), want);
            prop_assert_eq!(portable::panel_dot(w, v), want);
        }

        #[test]
        fn fused_requantization_equals_reference(
            stage in row_stage(),
            seed in proptest::collection::vec(weight(), 3 * 64),
            cols in proptest::collection::vec(any::<i8>(), 3 * 64),
        ) {
            let sums = tile_ref(&seed, &cols);
            let want: [[i8; 4]; 4] = core::array::from_fn(|r| sums[r].map(|a| stage.apply_ref(r, a)));
            prop_assert_eq!(tile_i8(&seed, &cols, &stage), want);
            prop_assert_eq!(portable::tile_i8(&seed, &cols, &stage), want);
            let v = &cols[..3 * 16];
            let sums = panel_dot_ref(&seed, v);
            let want: [i8; 4] = core::array::from_fn(|r| stage.apply_ref(r, sums[r]));
            prop_assert_eq!(panel_dot_i8(&seed, v, &stage), want);
            prop_assert_eq!(portable::panel_dot_i8(&seed, v, &stage), want);
        }
    }

    /// Valid stages with extreme biases, multipliers and shifts, so the sums
    /// reach the saturating and rounding corners of the requantization.
    fn row_stage() -> impl Strategy<Value = RowStage> {
        let bias = prop_oneof![any::<i32>(), -100_000i32..100_000, Just(i32::MAX), Just(i32::MIN)];
        let multiplier = prop_oneof![(1i32 << 30)..=i32::MAX, Just(1 << 30), Just(i32::MAX), Just(0)];
        let shift = prop_oneof![-31i32..=30, -20i32..=0];
        (
            proptest::array::uniform4(bias),
            proptest::array::uniform4(multiplier),
            proptest::array::uniform4(shift),
            -128i32..=127,
            any::<bool>(),
        )
            .prop_map(|(bias, multiplier, shift, output_offset, relu)| RowStage {
                bias,
                multiplier,
                shift,
                output_offset,
                act_min: if relu { output_offset } else { -128 },
                act_max: 127,
            })
    }

    #[test]
    fn extreme_values_do_not_overflow_the_int16_pairs() {
        // Both products of a pair at their largest magnitude: 2 * 127 * 128.
        for (wv, xv) in [(127i8, -128i8), (-127, -128), (127, 127), (-127, 127)] {
            let (w, x) = ([wv; 64 * 3], [xv; 64 * 3]);
            let want = 48 * wv as i32 * xv as i32;
            assert_eq!(tile(&w, &x), [[want; 4]; 4]);
            assert_eq!(panel_dot(&w, &x[..48]), [want; 4]);
        }
    }
}
