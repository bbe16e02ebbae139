//! Per-epoch metrics of a run: `metrics.csv` (appended, so a resumed run
//! continues the same file) and a PNG of the curves.

use crate::error::Result;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq)]
pub struct EpochRow {
    pub epoch: u32,
    pub step: u64,
    pub lr: f64,
    pub train_loss: f64,
    pub train_top1_err: f64,
    pub val_loss: f64,
    pub val_top1_err: f64,
    pub val_top5_err: f64,
    pub images_per_sec: f64,
    pub seconds: f64,
    pub skipped: usize,
}

pub const HEADER: &str =
    "epoch,step,lr,train_loss,train_top1_err,val_loss,val_top1_err,val_top5_err,images_per_sec,seconds,skipped";

impl EpochRow {
    pub fn csv(&self) -> String {
        format!(
            "{},{},{:.6e},{:.6},{:.6},{:.6},{:.6},{:.6},{:.1},{:.1},{}",
            self.epoch,
            self.step,
            self.lr,
            self.train_loss,
            self.train_top1_err,
            self.val_loss,
            self.val_top1_err,
            self.val_top5_err,
            self.images_per_sec,
            self.seconds,
            self.skipped
        )
    }

    pub fn summary(&self) -> String {
        format!(
            "epoch {}: train loss {:.4}, top-1 err {:.2}% | val loss {:.4}, top-1 err {:.2}%, top-5 err {:.2}% | lr {:.2e}, {:.0} img/s, {:.0} s",
            self.epoch,
            self.train_loss,
            100.0 * self.train_top1_err,
            self.val_loss,
            100.0 * self.val_top1_err,
            100.0 * self.val_top5_err,
            self.lr,
            self.images_per_sec,
            self.seconds
        )
    }

    pub fn parse(line: &str) -> Option<EpochRow> {
        let f: Vec<&str> = line.trim().split(',').collect();
        if f.len() != 11 {
            return None;
        }
        Some(EpochRow {
            epoch: f[0].parse().ok()?,
            step: f[1].parse().ok()?,
            lr: f[2].parse().ok()?,
            train_loss: f[3].parse().ok()?,
            train_top1_err: f[4].parse().ok()?,
            val_loss: f[5].parse().ok()?,
            val_top1_err: f[6].parse().ok()?,
            val_top5_err: f[7].parse().ok()?,
            images_per_sec: f[8].parse().ok()?,
            seconds: f[9].parse().ok()?,
            skipped: f[10].parse().ok()?,
        })
    }
}

pub struct MetricsLog {
    path: PathBuf,
    pub rows: Vec<EpochRow>,
}

impl MetricsLog {
    /// Opens (or starts) the log, keeping rows of a run being resumed.
    pub fn open(path: &Path) -> Result<MetricsLog> {
        let rows = match std::fs::read_to_string(path) {
            Ok(text) => text.lines().skip(1).filter_map(EpochRow::parse).collect(),
            Err(_) => Vec::new(),
        };
        Ok(MetricsLog { path: path.to_path_buf(), rows })
    }

    /// Adds a row (replacing one of the same epoch left by an interrupted
    /// run) and rewrites the file.
    pub fn append(&mut self, row: &EpochRow) -> Result<()> {
        self.rows.retain(|r| r.epoch < row.epoch);
        self.rows.push(row.clone());
        let mut text = String::from(HEADER);
        text.push('\n');
        for r in &self.rows {
            text.push_str(&r.csv());
            text.push('\n');
        }
        crate::error::write_atomic(&self.path, text.as_bytes())
    }
}
