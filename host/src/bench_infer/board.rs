//! The board's side of `host bench-infer`: the virtual board under
//! `-icount shift=0` counts one virtual nanosecond per instruction, so its
//! cycle counter gives exact, repeatable instruction counts per layer. Real
//! Pi latencies are projected from them under a stated model, never measured.

use crate::board::qemu::QemuOptions;
use crate::error::{HostError, Result};
use crate::run::{qemu_image_for, Connection, Target, BOOT_TIMEOUT};
use shared::spec::{Layer, ModelSpec};
use std::path::Path;

/// A core's throughput assumption for a projection.
pub struct CoreModel {
    pub board: &'static str,
    pub core: &'static str,
    pub ghz: f64,
    /// Instructions retired per cycle assumed for this NEON-heavy code.
    pub ipc: f64,
}

/// Raspberry Pi 3 (Cortex-A53, in-order, dual issue) and Pi 4 (Cortex-A72,
/// out of order, three-wide): clocks as shipped, IPCs as stated assumptions.
pub const PROJECTIONS: [CoreModel; 2] = [
    CoreModel { board: "Pi 3", core: "Cortex-A53", ghz: 1.2, ipc: 1.0 },
    CoreModel { board: "Pi 4", core: "Cortex-A72", ghz: 1.5, ipc: 1.5 },
];

/// Instructions per image, averaged over the images run.
pub struct BoardCounts {
    pub images: usize,
    /// Image resize and input quantization.
    pub prepare: f64,
    /// One entry per layer of the spec.
    pub layers: Vec<f64>,
}

impl BoardCounts {
    pub fn total(&self) -> f64 {
        self.prepare + self.layers.iter().sum::<f64>()
    }
}

/// Boots the virtual board with `-icount shift=0` on the model at
/// `model_path` and runs `images` (network input size) on it.
pub fn count_instructions(
    model_path: &Path,
    checksum: u32,
    images: &[Vec<u8>],
    spec: &ModelSpec,
) -> Result<BoardCounts> {
    let target = Target::Qemu { image: qemu_image_for(model_path)?, options: QemuOptions { icount: true } };
    let mut conn = Connection::open(&target)?;
    let info = conn.client.hello(BOOT_TIMEOUT)?;
    let on_board = info.model.map_err(crate::board::BoardError::Device)?;
    if on_board.checksum != checksum {
        return Err(HostError::Usage(format!("the virtual board holds model crc32 {:#010x}", on_board.checksum)));
    }
    let mut sums = BoardCounts { images: images.len(), prepare: 0.0, layers: vec![0.0; spec.layers.len()] };
    for (id, image) in images.iter().enumerate() {
        conn.client.infer(id as u32, image, spec.input)?;
        let p = conn.client.layer_cycles()?;
        sums.prepare += p.prepare as f64;
        for (s, c) in sums.layers.iter_mut().zip(&p.layers) {
            *s += *c as f64;
        }
    }
    conn.close()?;
    let n = images.len().max(1) as f64;
    sums.prepare /= n;
    sums.layers.iter_mut().for_each(|s| *s /= n);
    Ok(sums)
}

/// Prints the per-layer table, the per-MAC figures and the projections.
pub fn print(spec: &ModelSpec, counts: &BoardCounts) {
    println!("board (virtual raspi3b, -icount shift=0: instructions, mean of {} images)", counts.images);
    println!("  {:<8} {:>12} {:>14} {:>10} {:>7}", "layer", "MMAC", "M instr", "instr/MAC", "share");
    let total = counts.total();
    let row = |name: &str, macs: u64, instr: f64| {
        let per_mac = if macs > 0 { format!("{:.3}", instr / macs as f64) } else { "-".into() };
        println!(
            "  {:<8} {:>12.1} {:>14.2} {:>10} {:>6.1}%",
            name,
            macs as f64 / 1e6,
            instr / 1e6,
            per_mac,
            100.0 * instr / total
        );
    };
    row("input", 0, counts.prepare);
    let (mut conv, mut dense) = ((0u64, 0f64), (0u64, 0f64));
    for (l, instr) in spec.walk().zip(&counts.layers) {
        row(&l.name.to_string(), l.macs(), *instr);
        match l.layer {
            Layer::Conv(_) => conv = (conv.0 + l.macs(), conv.1 + instr),
            Layer::Dense(_) => dense = (dense.0 + l.macs(), dense.1 + instr),
            Layer::Lrn(_) | Layer::MaxPool(_) => {}
        }
    }
    println!("  total: {:.1} M instructions per image ({:.1} MMAC)", total / 1e6, spec.macs() as f64 / 1e6);
    let per = |(macs, instr): (u64, f64)| instr / macs.max(1) as f64;
    println!("  conv layers: {:.3} instructions/MAC; dense layers: {:.3} instructions/MAC", per(conv), per(dense));
    for m in &PROJECTIONS {
        println!(
            "  projection, {} ({} at {} GHz, assumed {} instructions/cycle): {:.1} ms/image",
            m.board,
            m.core,
            m.ghz,
            m.ipc,
            total / (m.ghz * 1e9 * m.ipc) * 1e3
        );
    }
}
