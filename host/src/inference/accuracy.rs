//! Top-1 and top-5 accuracy counting, for every engine and the board.

use serde::Serialize;

/// Top-1 and top-5 accuracy over a set of images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Accuracy {
    pub images: usize,
    pub top1: usize,
    pub top5: usize,
}

impl Accuracy {
    pub fn add(&mut self, label: u32, ranked: &[usize]) {
        self.images += 1;
        self.top1 += (ranked.first() == Some(&(label as usize))) as usize;
        self.top5 += ranked.iter().take(5).any(|c| *c == label as usize) as usize;
    }

    pub fn top1_pct(&self) -> f64 {
        100.0 * self.top1 as f64 / self.images.max(1) as f64
    }

    pub fn top5_pct(&self) -> f64 {
        100.0 * self.top5 as f64 / self.images.max(1) as f64
    }
}
