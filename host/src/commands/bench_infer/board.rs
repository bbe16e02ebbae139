//! The board's side of `host bench-infer`: the virtual board under
//! `-icount shift=0` counts one virtual nanosecond per instruction, so its
//! PMU gives exact, repeatable instruction counts per layer. QEMU counts the
//! instructions of all its cores together, so while measuring, the board runs
//! the parts of each layer in turn: each part's count is then its own, and
//! the critical path is core 0's serial work plus the largest part of each
//! split, what four cores running at once would take (memory contention
//! aside). What a real Pi would take is the cycle model's to say
//! (`cycle_model`), from the instruction mix of the same run.

use super::mix::BoardMix;
use crate::board::qemu::{InsnMixPlugin, QemuOptions, VirtualBoard};
use crate::board::session::{check_batch, qemu_image_for, Connection, Target, BOOT_TIMEOUT};
use crate::error::{HostError, Result};
use shared::infer::Prediction;
use shared::link::{encode_frame, InferResult, Request, Response, CHUNK_LEN, FRAME_GUARD, MAX_FRAME};
use shared::spec::{Layer, ModelSpec, Shape};
use std::path::Path;

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
/// `model_path` and runs `images` (network input size) on it: sent over the
/// link one by one at `batch` 1, else stored on its card and run `batch` at
/// a time (`Request::InferCardBatch`). With `mix_plugin`, also loads the
/// instruction-mix plugin and returns its counts per image.
pub fn count_instructions(
    model_path: &Path,
    checksum: u32,
    images: &[Vec<u8>],
    spec: &ModelSpec,
    mix_plugin: Option<&Path>,
    batch: usize,
) -> Result<(BoardCounts, Option<BoardMix>)> {
    let mix_out = model_path.with_extension(format!("batch{batch}.insn-mix.txt"));
    let insn_mix = mix_plugin.map(|plugin| InsnMixPlugin { plugin: plugin.to_path_buf(), out: mix_out.clone() });
    if insn_mix.is_some() {
        // A table left by an earlier run must not pass for this one's.
        let _ = std::fs::remove_file(&mix_out);
    }
    let with_mix = insn_mix.is_some();
    let options = QemuOptions { board: VirtualBoard::Rpi3, icount: true, insn_mix, ..QemuOptions::default() };
    let card = match batch {
        1 => None,
        _ => Some(
            shared::card::write(images.iter().map(|i| (spec.input, i.as_slice())))
                .map_err(|e| HostError::Usage(format!("the benchmark's images on the card: {e:?}")))?,
        ),
    };
    let target = Target::Qemu { image: qemu_image_for(model_path, options.board, card.as_deref())?, options };
    let mut conn = Connection::open(&target)?;
    let info = conn.client.hello(BOOT_TIMEOUT)?;
    let on_board = info.model.map_err(crate::board::BoardError::Device)?;
    if on_board.checksum != checksum {
        return Err(HostError::Usage(format!("the virtual board holds model crc32 {:#010x}", on_board.checksum)));
    }
    check_batch("--board-batch", "the virtual board", batch, &info)?;
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
    let step = batch.max(1);
    for (k, chunk) in images.chunks(step).enumerate() {
        let first = (k * step) as u32;
        if step == 1 {
            conn.client.infer(first, &chunk[0], spec.input)?;
        } else {
            let indices: Vec<u32> = (first..first + chunk.len() as u32).collect();
            conn.client.infer_card_batch(&indices)?;
        }
        // A batch's counts cover all its images; the sums are divided by
        // the number of images below.
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
    // QEMU writes the mix table as it exits, which closing waits for.
    conn.close()?;
    let n = images.len().max(1) as f64;
    sums.prepare /= n;
    sums.critical.iter_mut().chain(sums.total.iter_mut()).for_each(|s| *s /= n);
    let mix = if with_mix { Some(super::mix::read(&mix_out, layers, images.len())?) } else { None };
    Ok((sums, mix))
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

/// Prints the per-layer table and the per-MAC figures.
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
}

/// The serial link's bytes per image and what they cost beside `compute_s`
/// (the cycle model's Pi 3 B time per image, when there is one).
pub fn print_link(spec: &ModelSpec, compute_s: Option<f64>) {
    let bytes = wire_bytes(spec.input);
    println!("  serial link: {bytes} bytes per {} image with its frames and replies (8N1: 10 bits a byte)", spec.input);
    for baud in LINK_RATES {
        let wire_s = bytes as f64 * 10.0 / baud as f64;
        let with_compute = compute_s.map_or(String::new(), |c| {
            format!(", {:6.1} images/s with the Pi 3 B's modelled compute (one after the other)", 1.0 / (wire_s + c))
        });
        println!("    {baud:>9} baud: {:8.1} ms on the wire{with_compute}", wire_s * 1e3);
    }
}
