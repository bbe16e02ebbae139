//! Written for LLVM's auto-vectorizer: products summed in pairs into int32
//! lanes (the shape of x86's `pmaddwd`), one lane array per output. The
//! fallback where no SIMD kernel applies.
#![cfg_attr(target_arch = "aarch64", allow(dead_code))]

use super::reference::{RowStage, TILE_COLS};
use crate::layers::packed::{PANEL_DEPTH, PANEL_ROWS};

const PAIRS: usize = PANEL_DEPTH / 2;

#[inline(always)]
fn mac(acc: &mut [i32; PAIRS], w: &[i8], x: &[i8]) {
    for l in 0..PAIRS {
        acc[l] +=
            w[2 * l] as i16 as i32 * x[2 * l] as i16 as i32 + w[2 * l + 1] as i16 as i32 * x[2 * l + 1] as i16 as i32;
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
    stage.apply_to_tile(tile(w, x))
}

pub fn panel_dot_i8(w: &[i8], x: &[i8], stage: &RowStage) -> [i8; PANEL_ROWS] {
    stage.apply_to_rows(panel_dot(w, x))
}
