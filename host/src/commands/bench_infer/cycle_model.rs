//! What a real Pi would take, modelled: the virtual board's instruction mix
//! per layer and part ([`super::mix`]) turned into Cortex-A53 and A72
//! cycles with published issue rates, a memory time from the bytes that
//! cannot stay in L2 at a measured DRAM speed, and each layer as the larger
//! of the two. It is a model, printed as one: a real board's cycle counter
//! (`host run --from-card --layers`) replaces it.
//!
//! Left out: cache conflicts and misses inside L2, TLB walks, prefetch,
//! latency chains (the kernels keep 16 independent accumulators), the GPU
//! sharing DRAM, and cores slowing each other beyond sharing bandwidth.

use super::mix::{BoardMix, ClassCounts};
use qemu_insn_mix::classify::Class;
use shared::kernels::conv_i8::DENSE_BATCH;
use shared::spec::{Layer, ModelSpec};

/// How a core issues the instruction classes, in units per cycle.
#[derive(Clone, Copy, Debug)]
pub enum Core {
    /// Cortex-A53: in order, dual issue, one 64-bit NEON datapath used twice
    /// for Q forms. Rates measured on a Raspberry Pi 3 (ocxtal/
    /// insn_bench_aarch64, results/raspberry-pi-3_cortex-a53.md): Q-form
    /// SMULL/SMLAL(2) 1 per cycle, SADALP 1 per 2 cycles, `ldr q` and `ld1`
    /// one 128-bit register per 2 cycles with nothing dual-issuing meanwhile
    /// (also gemmlowp's A53 kernel notes; ncnn's arm-a53-a55-dual-issue.md).
    /// Assumed, not measured: other Q-form NEON arithmetic 1 per cycle, a
    /// 128-bit store as slow as a 128-bit load.
    A53,
    /// Cortex-A72: out of order, three-wide dispatch; F0 takes SMULL/SMLAL
    /// (1 per cycle), F1 takes SADALP (1 per cycle), other NEON either; one
    /// load pipe (`ldr q` 1 per cycle), one store pipe, two integer pipes,
    /// one branch pipe. Measured on an NXP LX2160A (same repository,
    /// results/nxp_lx2160a_a72.md); pipe assignment from LLVM's Cortex-A57
    /// scheduling model (AArch64SchedA57.td), which LLVM uses for the A72.
    A72,
}

impl Core {
    /// Int8 multiply-accumulates per cycle of the SMULL + SMLAL2 + SADALP
    /// idiom at the rates above: 16 MACs per 4 cycles on the A53 (1 + 1 +
    /// 2), per 2 cycles on the A72 (SMULL and SMLAL2 on F0, SADALP on F1).
    pub fn peak_macs_per_cycle(self) -> f64 {
        match self {
            Core::A53 => 4.0,
            Core::A72 => 8.0,
        }
    }

    /// Modelled cycles for `c` on one core.
    pub fn cycles(self, c: &ClassCounts) -> f64 {
        let g = |class| c.get(class);
        let neon_ops = g(Class::MulLong) + g(Class::PairAccumulate) + g(Class::NeonOther);
        let others = g(Class::LoadNarrow) + g(Class::StoreNarrow) + g(Class::Branch) + g(Class::Scalar);
        match self {
            Core::A53 => {
                // The NEON pipe issues one op a cycle (SADALP every other); a
                // scalar, branch or narrow load/store can pair with it (two
                // issue slots, one load/store unit); a 128-bit load or store
                // takes the core for 2 cycles.
                let neon = g(Class::MulLong) + 2.0 * g(Class::PairAccumulate) + g(Class::NeonOther);
                let slots = (neon_ops + others) / 2.0;
                let narrow_memory = g(Class::LoadNarrow) + g(Class::StoreNarrow);
                2.0 * (g(Class::LoadQ) + g(Class::StoreQ)) + neon.max(slots).max(narrow_memory)
            }
            Core::A72 => {
                let f0 = g(Class::MulLong);
                let f1 = g(Class::PairAccumulate);
                // Other NEON work fills whichever of F0/F1 is less busy.
                let fp = f0.max(f1).max(neon_ops / 2.0);
                let load = g(Class::LoadQ) + g(Class::LoadNarrow);
                let store = g(Class::StoreQ) + g(Class::StoreNarrow);
                let integer = g(Class::Scalar) / 2.0;
                let dispatch = c.instructions / 3.0;
                [fp, load, store, integer, g(Class::Branch), dispatch].into_iter().fold(0.0, f64::max)
            }
        }
    }
}

/// A board as the model sees it.
#[derive(Clone, Copy, Debug)]
pub struct Board {
    pub name: &'static str,
    pub core: Core,
    pub ghz: f64,
    pub cores: usize,
    pub l2_bytes: usize,
    /// Sustained NEON read bandwidth of the whole chip, bytes/s.
    pub dram_bytes_per_s: f64,
}

/// The boards: clocks as shipped; L2 from the BCM2837/BCM2711 datasheets;
/// DRAM from tinymembench's NEON read in ThomasKaiser/sbc-bench's results
/// (Pi 3 B+ 2.1-2.4 GB/s, Pi 4 B about 4.3 GB/s; the Pi 3 B's is taken as
/// the 3 B+'s, its LPDDR2 runs at the same 900 MHz).
pub const BOARDS: [Board; 3] = [
    Board { name: "Pi 3 B", core: Core::A53, ghz: 1.2, cores: 4, l2_bytes: 512 << 10, dram_bytes_per_s: 2.2e9 },
    Board { name: "Pi 3 B+", core: Core::A53, ghz: 1.4, cores: 4, l2_bytes: 512 << 10, dram_bytes_per_s: 2.2e9 },
    Board { name: "Pi 4 B", core: Core::A72, ghz: 1.5, cores: 4, l2_bytes: 1 << 20, dram_bytes_per_s: 4.3e9 },
];

/// ncnn's fp32 AlexNet (227x227x3), 4 threads, from ncnn's
/// benchmark/README.md: the figure to beat on the same boards.
pub const NCNN_ANCHORS: [(&str, f64); 2] = [("Pi 3 B+", 159.0), ("Pi 4 B", 76.0)];

/// What bounds a layer in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Compute,
    Memory,
}

/// One layer on one board.
#[derive(Clone, Copy, Debug)]
pub struct LayerTime {
    /// Cycles on the critical path: core 0's serial work plus the slowest part.
    pub cycles: f64,
    /// Bytes the layer reads from DRAM.
    pub dram_bytes: f64,
    pub seconds: f64,
    pub bound: Bound,
    /// The floor: MACs at the idiom's peak on every core, or the DRAM bytes
    /// at full bandwidth, whichever is longer.
    pub floor_seconds: f64,
}

/// Bytes each layer reads from DRAM per image, `batch` images at a time
/// (`host run --batch`): its weights when the network's weights do not fit
/// in L2 beside the largest activation pair (each image then finds L2
/// holding other layers' weights), and its input and output when those
/// alone overflow L2. Over a batch, a dense layer reads its weights once
/// per four images (`DENSE_BATCH`), and a convolution, which runs on the
/// batch's images one after another, reads them once per batch when they
/// fit in L2 beside its activations.
pub fn dram_bytes(spec: &ModelSpec, l2_bytes: usize, batch: usize) -> Vec<f64> {
    let l2_bytes = l2_bytes as u64;
    let weights: Vec<u64> = spec.walk().map(|l| l.params()).collect();
    let activations: Vec<u64> = spec.walk().map(|l| (l.input.len() + l.output.len()) as u64).collect();
    let weights_stay = weights.iter().sum::<u64>() + activations.iter().max().copied().unwrap_or(0) <= l2_bytes;
    let batch = batch.max(1);
    spec.walk()
        .zip(weights.iter().zip(&activations))
        .map(|(l, (&w, &a))| {
            let shared_by = match l.layer {
                Layer::Dense(_) => batch.min(DENSE_BATCH),
                _ if w + a <= l2_bytes => batch,
                _ => 1,
            };
            let w = if weights_stay { 0.0 } else { w as f64 / shared_by as f64 };
            let a = if a > l2_bytes { a } else { 0 };
            w + a as f64
        })
        .collect()
}

/// The model's time per image for each layer of `spec` on `board`, from
/// the instruction mix per image of a run `batch` images at a time.
pub fn layer_times(spec: &ModelSpec, mix: &BoardMix, board: &Board, batch: usize) -> Vec<LayerTime> {
    let hz = board.ghz * 1e9;
    let peak = board.core.peak_macs_per_cycle() * board.cores as f64 * hz;
    spec.walk()
        .zip(&mix.layers)
        .zip(dram_bytes(spec, board.l2_bytes, batch))
        .map(|((l, m), dram)| {
            let slowest = m.parts.iter().map(|p| board.core.cycles(p)).fold(0.0, f64::max);
            let cycles = board.core.cycles(&m.serial) + slowest;
            let compute = cycles / hz;
            let memory = dram / board.dram_bytes_per_s;
            let bound = if memory > compute { Bound::Memory } else { Bound::Compute };
            LayerTime {
                cycles,
                dram_bytes: dram,
                seconds: compute.max(memory),
                bound,
                floor_seconds: (l.macs() as f64 / peak).max(memory),
            }
        })
        .collect()
}

/// The input's preparation (resize), on core 0 alone.
pub fn prepare_seconds(mix: &BoardMix, board: &Board) -> f64 {
    board.core.cycles(&mix.prepare) / (board.ghz * 1e9)
}

/// The model's time per image on `board`, `batch` images at a time:
/// preparation plus every layer.
pub fn image_seconds(spec: &ModelSpec, mix: &BoardMix, board: &Board, batch: usize) -> f64 {
    prepare_seconds(mix, board) + layer_times(spec, mix, board, batch).iter().map(|l| l.seconds).sum::<f64>()
}

/// Each board's modelled time per image and floor, in seconds.
fn totals(spec: &ModelSpec, mix: &BoardMix, batch: usize) -> Vec<(f64, f64)> {
    BOARDS
        .iter()
        .map(|b| {
            let floor = layer_times(spec, mix, b, batch).iter().map(|l| l.floor_seconds).sum::<f64>();
            (image_seconds(spec, mix, b, batch), floor)
        })
        .collect()
}

/// The model at batch 1 and over a batch, board by board: what reading the
/// dense weights once per four images saves.
pub fn print_batch(spec: &ModelSpec, single: &BoardMix, batched: &BoardMix, batch: usize) {
    println!(
        "  cycle model over a batch ({batch} card images at a time, `host run --from-card --batch {batch}`; instruction mix of that run, per image):"
    );
    for ((b, (one, _)), (many, floor)) in BOARDS.iter().zip(totals(spec, single, 1)).zip(totals(spec, batched, batch)) {
        println!(
            "  {:<8} batch 1 {:>7.1} ms/image, batch {batch} {:>7.1} ms/image ({:.2}x), floor {:.1} ms ({:.2}x the floor)",
            b.name,
            one * 1e3,
            many * 1e3,
            one / many,
            floor * 1e3,
            many / floor
        );
    }
}

/// Prints the mix, the per-layer model on each board, the totals beside
/// the floor and ncnn's figures.
pub fn print(spec: &ModelSpec, mix: &BoardMix) {
    // ncnn's figures are for the paper's shapes only.
    let paper = shared::spec::AlexNetConfig::paper().build().is_ok_and(|p| p == *spec);
    println!("  instruction mix per image, all cores (millions; 128-bit loads/stores count registers; QEMU plugin qemu-insn-mix):");
    println!(
        "  {:<8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "layer", "instr", "smull", "sadalp", "neon", "ld q", "st q", "ld <=64", "st <=64", "branch", "scalar"
    );
    let row = |name: &str, c: &ClassCounts| {
        let m = |class| c.get(class) / 1e6;
        println!(
            "  {:<8} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            name,
            c.instructions / 1e6,
            m(Class::MulLong),
            m(Class::PairAccumulate),
            m(Class::NeonOther),
            m(Class::LoadQ),
            m(Class::StoreQ),
            m(Class::LoadNarrow),
            m(Class::StoreNarrow),
            m(Class::Branch),
            m(Class::Scalar)
        );
    };
    row("input", &mix.prepare);
    for (l, m) in spec.walk().zip(&mix.layers) {
        row(&l.name.to_string(), &m.total());
    }

    let times: Vec<Vec<LayerTime>> = BOARDS.iter().map(|b| layer_times(spec, mix, b, 1)).collect();
    println!(
        "  cycle model, 4 cores, batch 1 (a model from published issue rates and DRAM speeds, not a measurement):"
    );
    print!("  {:<8} {:>9} {:>10} {:>10}", "layer", "MB DRAM*", "M cyc A53", "M cyc A72");
    for b in &BOARDS {
        print!(" {:>22}", format!("{} {} GHz: ms", b.name, b.ghz));
    }
    println!();
    let a72 = BOARDS.iter().position(|b| matches!(b.core, Core::A72)).unwrap_or(0);
    for (i, l) in spec.walk().enumerate() {
        print!(
            "  {:<8} {:>9.2} {:>10.3} {:>10.3}",
            l.name.to_string(),
            times[0][i].dram_bytes / 1e6,
            times[0][i].cycles / 1e6,
            times[a72][i].cycles / 1e6
        );
        for t in &times {
            let bound = match t[i].bound {
                Bound::Compute => "compute",
                Bound::Memory => "memory",
            };
            print!(" {:>22}", format!("{:.2} {bound}", t[i].seconds * 1e3));
        }
        println!();
    }
    for (b, (total, floor)) in BOARDS.iter().zip(totals(spec, mix, 1)) {
        let anchor = NCNN_ANCHORS.iter().find(|(name, _)| paper && *name == b.name);
        let beside = anchor.map_or(String::new(), |(_, ms)| {
            format!("; ncnn fp32 AlexNet, 4 threads, measured on a real {}: {ms:.0} ms", b.name)
        });
        println!(
            "  {} ({:?} x{} at {} GHz): {:.1} ms/image modelled, floor {:.1} ms ({:.2}x the floor){beside}",
            b.name,
            b.core,
            b.cores,
            b.ghz,
            total * 1e3,
            floor * 1e3,
            total / floor
        );
    }
    println!("  * read from DRAM per image on the Pi 3 (512 KB L2); M cyc: the critical path, core 0's serial work plus the slowest part");
    let dense_weights: u64 = spec.walk().filter(|l| matches!(l.layer, Layer::Dense(_))).map(|l| l.params()).sum();
    println!(
        "  the floor: MACs at {} (A53) or {} (A72) per cycle per core on 4 cores, or each layer's DRAM bytes at full speed, whichever is longer; dense weights {:.1} MB per image at batch 1",
        Core::A53.peak_macs_per_cycle(),
        Core::A72.peak_macs_per_cycle(),
        dense_weights as f64 / 1e6
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use qemu_insn_mix::classify::CLASSES;

    fn counts(pairs: &[(Class, f64)]) -> ClassCounts {
        let mut c = ClassCounts::default();
        for &(class, n) in pairs {
            c.classes[class.index()] = n;
            c.instructions += n;
        }
        assert_eq!(c.classes.len(), CLASSES.len());
        c
    }

    /// The GEMM's inner step (per 16 depth values of a 4x4 tile): 2 LD1 of
    /// four Q registers, 16 SMULL, 16 SMLAL2, 16 SADALP. On the A53 that is
    /// 16 + 16 + 32 NEON cycles and 16 cycles of loads: 256 MACs x 4 in 80
    /// cycles. On the A72, F0's 32 multiplies bound it: 1024 MACs in 32.
    #[test]
    fn the_gemm_step_at_the_published_rates() {
        let step =
            counts(&[(Class::LoadQ, 8.0), (Class::MulLong, 32.0), (Class::PairAccumulate, 16.0), (Class::Scalar, 4.0)]);
        assert_eq!(Core::A53.cycles(&step), 16.0 + 64.0);
        assert_eq!(Core::A72.cycles(&step), 32.0);
        // At the idiom's peak the A53 does 4 MACs a cycle: 16 MACs per SMULL+SMLAL2+SADALP.
        let idiom = counts(&[(Class::MulLong, 2.0), (Class::PairAccumulate, 1.0)]);
        assert_eq!(16.0 / Core::A53.cycles(&idiom), Core::A53.peak_macs_per_cycle());
        assert_eq!(16.0 / Core::A72.cycles(&idiom), Core::A72.peak_macs_per_cycle());
    }

    #[test]
    fn scalar_work_dual_issues_on_the_a53() {
        let scalar = counts(&[(Class::Scalar, 10.0)]);
        assert_eq!(Core::A53.cycles(&scalar), 5.0);
        let mixed = counts(&[(Class::NeonOther, 10.0), (Class::Scalar, 10.0)]);
        assert_eq!(Core::A53.cycles(&mixed), 10.0);
    }

    #[test]
    fn paper_weights_stream_from_dram_and_small_ones_stay_in_l2() {
        let paper = shared::spec::AlexNetConfig::paper().build().unwrap();
        let bytes = dram_bytes(&paper, 1 << 20, 1);
        let total: f64 = bytes.iter().sum();
        assert!(total > 60e6, "{total}");
        // Over a batch of four, the dense layers' 58.6 MB is read once for all four.
        let dense: Vec<bool> = paper.walk().map(|l| matches!(l.layer, Layer::Dense(_))).collect();
        let per_image = dram_bytes(&paper, 1 << 20, 4);
        for ((one, four), dense) in bytes.iter().zip(&per_image).zip(&dense) {
            if *dense {
                assert_eq!(*four, one / 4.0);
            }
        }
        // Eight at a time: the dense layers still take four images at once;
        // a convolution whose weights stay in L2 reads them once per batch.
        let eight = dram_bytes(&paper, 1 << 20, 8);
        for (((eight, four), dense), l) in eight.iter().zip(&per_image).zip(&dense).zip(paper.walk()) {
            match dense {
                true => assert_eq!(eight, four, "{}", l.name),
                false => assert!(eight <= four, "{}", l.name),
            }
        }
        let tiny = shared::spec::AlexNetConfig::small(shared::spec::Shape::new(1, 28, 28), 10)
            .with_width(0.25)
            .build()
            .unwrap();
        assert_eq!(dram_bytes(&tiny, 1 << 20, 1).iter().sum::<f64>(), 0.0);
    }
}
