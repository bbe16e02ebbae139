//! The virtual board's instructions by kind, per layer and part, from the
//! `qemu-insn-mix` plugin (`host/qemu-insn-mix`): where the plugin lives,
//! and its table folded into the shape of the spec.

use crate::error::{HostError, Result};
use qemu_insn_mix::classify::{Class, CLASSES};
use qemu_insn_mix::table::{self, Row};
use shared::marks;
use std::path::{Path, PathBuf};

/// The plugin's file name as cargo builds it.
const PLUGIN_FILE: &str = "libqemu_insn_mix.so";

/// Where the instruction-mix plugin is: `$QEMU_INSN_MIX_PLUGIN`, else what
/// cargo built beside this program: building `host` builds the plugin into
/// `target/<profile>/deps/`, building the plugin's package also copies it up
/// a level; the newer of the two is today's.
pub fn plugin_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("QEMU_INSN_MIX_PLUGIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    [dir.join(PLUGIN_FILE), dir.join("deps").join(PLUGIN_FILE)]
        .into_iter()
        .filter_map(|p| modified(&p).map(|t| (t, p)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
}

/// Instructions and per-class counts of some work.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClassCounts {
    pub instructions: f64,
    /// Indexed like `CLASSES`; 128-bit loads and stores count registers.
    pub classes: [f64; CLASSES.len()],
}

impl ClassCounts {
    pub fn get(&self, class: Class) -> f64 {
        self.classes[class.index()]
    }

    fn add(&mut self, row: &Row) {
        self.instructions += row.instructions as f64;
        self.classes.iter_mut().zip(row.classes).for_each(|(s, c)| *s += c as f64);
    }

    fn scaled(mut self, by: f64) -> ClassCounts {
        self.instructions *= by;
        self.classes.iter_mut().for_each(|c| *c *= by);
        self
    }

    pub fn plus(mut self, other: &ClassCounts) -> ClassCounts {
        self.instructions += other.instructions;
        self.classes.iter_mut().zip(other.classes).for_each(|(s, c)| *s += c);
        self
    }
}

/// One layer's work: core 0's steps outside the parts, and each part.
#[derive(Clone, Debug, Default)]
pub struct LayerMix {
    pub serial: ClassCounts,
    pub parts: Vec<ClassCounts>,
}

impl LayerMix {
    /// Everything the layer executed, on all cores.
    pub fn total(&self) -> ClassCounts {
        self.parts.iter().fold(self.serial, |t, p| t.plus(p))
    }
}

/// Per image (the mean over the images run).
#[derive(Clone, Debug)]
pub struct BoardMix {
    pub prepare: ClassCounts,
    pub layers: Vec<LayerMix>,
}

/// Reads the plugin's table for a run of `images` images of a network of
/// `layers` layers.
pub fn read(path: &Path, layers: usize, images: usize) -> Result<BoardMix> {
    let text = std::fs::read_to_string(path).map_err(|source| HostError::File { path: path.to_path_buf(), source })?;
    let rows = table::parse(&text).map_err(|e| HostError::Usage(format!("{}: {e}", path.display())))?;
    let mut mix = BoardMix { prepare: ClassCounts::default(), layers: vec![LayerMix::default(); layers] };
    for row in &rows {
        let segment = row.segment as usize;
        if row.segment == marks::PREPARE {
            mix.prepare.add(row);
        } else if (marks::layer(0) as usize..marks::layer(layers) as usize).contains(&segment) {
            let layer = &mut mix.layers[segment - marks::layer(0) as usize];
            match row.part {
                None => layer.serial.add(row),
                Some(p) => {
                    let p = p as usize;
                    if layer.parts.len() <= p {
                        layer.parts.resize(p + 1, ClassCounts::default());
                    }
                    layer.parts[p].add(row);
                }
            }
        }
    }
    let per_image = 1.0 / images.max(1) as f64;
    mix.prepare = mix.prepare.scaled(per_image);
    for l in &mut mix.layers {
        l.serial = l.serial.scaled(per_image);
        l.parts.iter_mut().for_each(|p| *p = p.scaled(per_image));
    }
    Ok(mix)
}

/// How far the plugin's instruction counts are from the board's PMU under
/// `-icount` (the same run): over all layers, and the largest gap of a
/// layer that holds at least 1% of the work, with its index.
pub struct Agreement {
    pub all_layers: f64,
    pub worst_layer: Option<(usize, f64)>,
}

/// The gap the model tolerates: more, and it would rest on wrong counts.
pub const MAX_GAP: f64 = 0.01;

pub fn agreement(mix: &BoardMix, pmu_per_layer: &[f64]) -> Agreement {
    let plugin: Vec<f64> = mix.layers.iter().map(|l| l.total().instructions).collect();
    let gap = |a: f64, b: f64| (a - b).abs() / b.max(1.0);
    let pmu_sum: f64 = pmu_per_layer.iter().sum();
    let all_layers = gap(plugin.iter().sum(), pmu_sum);
    let worst_layer = plugin
        .iter()
        .zip(pmu_per_layer)
        .enumerate()
        .filter(|(_, (_, &pmu))| pmu >= 0.01 * pmu_sum)
        .map(|(i, (&p, &pmu))| (i, gap(p, pmu)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    Agreement { all_layers, worst_layer }
}
