//! The board's side of `host bench-infer`: the virtual board under
//! `-icount shift=0` counts one virtual nanosecond per instruction, so its
//! PMU gives exact, repeatable instruction counts per layer. QEMU counts the
//! instructions of all its cores together, so while measuring, the board runs
//! the parts of each layer in turn: each part's count is then its own, and
//! the critical path is core 0's serial work plus the largest part of each
//! split, what four cores running at once would take (memory contention
//! aside). Real Pi latencies are projected from that under a stated model,
//! never measured.

use crate::board::qemu::{QemuOptions, VirtualBoard};
use crate::board::session::{qemu_image_for, Connection, Target, BOOT_TIMEOUT};
use crate::error::{HostError, Result};
use shared::infer::Prediction;
use shared::link::{encode_frame, InferResult, Request, Response, CHUNK_LEN, FRAME_GUARD, MAX_FRAME};
use shared::spec::{Layer, ModelSpec, Shape};
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
    pub cores: u8,
    /// Image resize and input quantization (core 0's virtual time).
    pub prepare: f64,
    /// Per layer of the spec: instructions on the critical path (serial work plus the
    /// busiest core of each split) and on all cores together.
    pub critical: Vec<f64>,
    pub total: Vec<f64>,
}

impl BoardCounts {
    pub fn critical_path(&self) -> f64 {
        self.prepare + self.critical.iter().sum::<f64>()
    }

    pub fn all_cores(&self) -> f64 {
        self.prepare + self.total.iter().sum::<f64>()
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
    let options = QemuOptions { board: VirtualBoard::Rpi3, icount: true, ..QemuOptions::default() };
    let target = Target::Qemu { image: qemu_image_for(model_path, options.board, None)?, options };
    let mut conn = Connection::open(&target)?;
    let info = conn.client.hello(BOOT_TIMEOUT)?;
    let on_board = info.model.map_err(crate::board::BoardError::Device)?;
    if on_board.checksum != checksum {
        return Err(HostError::Usage(format!("the virtual board holds model crc32 {:#010x}", on_board.checksum)));
    }
    // QEMU's instruction counter is global across its cores: with the parts
    // of each layer run in turn, each part's count is its own.
    conn.client.parts_in_turn(true)?;
    let layers = spec.layers.len();
    let mut sums = BoardCounts {
        images: images.len(),
        cores: info.cores,
        prepare: 0.0,
        critical: vec![0.0; layers],
        total: vec![0.0; layers],
    };
    for (id, image) in images.iter().enumerate() {
        conn.client.infer(id as u32, image, spec.input)?;
        let p = conn.client.layer_cycles()?;
        if p.critical.len() != layers || p.instructions.len() != layers {
            return Err(HostError::Usage("the board does not count instructions per core (no PMU event)".into()));
        }
        sums.prepare += p.prepare as f64;
        for (s, c) in sums.critical.iter_mut().zip(&p.critical) {
            *s += *c as f64;
        }
        for (s, c) in sums.total.iter_mut().zip(&p.instructions) {
            *s += *c as f64;
        }
    }
    conn.close()?;
    let n = images.len().max(1) as f64;
    sums.prepare /= n;
    sums.critical.iter_mut().chain(sums.total.iter_mut()).for_each(|s| *s /= n);
    Ok(sums)
}

/// Serial rates to show the link's limit at: the firmware's fallback,
/// `host flash`'s default, and the PL011's top at a 48 MHz clock.
const LINK_RATES: [u32; 3] = [115_200, shared::settings::FLASH_BAUD, 3_000_000];

fn frame_len<T: serde::Serialize>(message: &T) -> usize {
    encode_frame(u16::MAX, message, &mut [0u8; MAX_FRAME]).expect("every message fits a frame") + FRAME_GUARD.len()
}

/// Bytes on the wire for one image of `shape` sent as `host run` sends it:
/// every request frame and its reply (COBS, CRC, delimiters included).
pub fn wire_bytes(shape: Shape) -> usize {
    let ack = frame_len(&Response::Ack);
    let image = vec![0u8; shape.len()];
    let mut total = frame_len(&Request::BeginImage { id: u32::MAX, shape }) + ack;
    for (k, chunk) in image.chunks(CHUNK_LEN).enumerate() {
        let offset = (k * CHUNK_LEN) as u32;
        total += frame_len(&Request::ImageChunk { id: u32::MAX, offset, data: chunk }) + ack;
    }
    let top5 = (0..5).map(|k| Prediction { class: 999 - k, logit: 127 }).collect();
    let result = Response::Result(InferResult { id: u32::MAX, top5, cycles: u32::MAX as u64 });
    total + frame_len(&Request::Infer { id: u32::MAX, crc: u32::MAX }) + frame_len(&result)
}

/// Prints the per-layer table, the per-MAC figures and the projections.
pub fn print(spec: &ModelSpec, counts: &BoardCounts) {
    println!(
        "board (virtual raspi3b, {} cores, -icount shift=0: instructions, mean of {} images)",
        counts.cores, counts.images
    );
    println!(
        "  {:<8} {:>10} {:>16} {:>16} {:>10} {:>7}",
        "layer", "MMAC", "M busiest core", "M all cores", "instr/MAC", "share"
    );
    let critical = counts.critical_path();
    let row = |name: &str, macs: u64, busiest: f64, all: f64| {
        let per_mac = if macs > 0 { format!("{:.3}", all / macs as f64) } else { "-".into() };
        println!(
            "  {:<8} {:>10.1} {:>16.2} {:>16.2} {:>10} {:>6.1}%",
            name,
            macs as f64 / 1e6,
            busiest / 1e6,
            all / 1e6,
            per_mac,
            100.0 * busiest / critical
        );
    };
    row("input", 0, counts.prepare, counts.prepare);
    let (mut conv, mut dense) = ((0u64, 0f64), (0u64, 0f64));
    for ((l, busiest), all) in spec.walk().zip(&counts.critical).zip(&counts.total) {
        row(&l.name.to_string(), l.macs(), *busiest, *all);
        match l.layer {
            Layer::Conv(_) => conv = (conv.0 + l.macs(), conv.1 + all),
            Layer::Dense(_) => dense = (dense.0 + l.macs(), dense.1 + all),
            Layer::Lrn(_) | Layer::MaxPool(_) | Layer::AvgPool(_) => {}
        }
    }
    println!(
        "  per image: {:.1} M instructions on the busiest core (critical path), {:.1} M on all cores, {:.1} MMAC",
        critical / 1e6,
        counts.all_cores() / 1e6,
        spec.macs() as f64 / 1e6
    );
    let per = |(macs, instr): (u64, f64)| instr / macs.max(1) as f64;
    println!("  instructions per MAC, all cores: conv layers {:.3}, dense layers {:.3}", per(conv), per(dense));
    for m in &PROJECTIONS {
        println!(
            "  projection, {} ({} x{} at {} GHz, assumed {} instructions/cycle, memory stalls not modelled): {:.1} ms/image",
            m.board,
            m.core,
            counts.cores,
            m.ghz,
            m.ipc,
            critical / (m.ghz * 1e9 * m.ipc) * 1e3
        );
    }
    let bytes = wire_bytes(spec.input);
    let pi3 = &PROJECTIONS[0];
    let compute_s = critical / (pi3.ghz * 1e9 * pi3.ipc);
    println!("  serial link: {bytes} bytes per {} image with its frames and replies (8N1: 10 bits a byte)", spec.input);
    for baud in LINK_RATES {
        let wire_s = bytes as f64 * 10.0 / baud as f64;
        println!(
            "    {baud:>9} baud: {:8.1} ms on the wire, {:6.1} images/s with the {} compute above (one after the other)",
            wire_s * 1e3,
            1.0 / (wire_s + compute_s),
            pi3.board
        );
    }
}
