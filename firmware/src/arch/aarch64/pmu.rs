//! The PMU's instruction counter (event INST_RETIRED on event counter 0), per core: how the
//! board reports the instructions each core spends on its share of a layer. QEMU implements the
//! event only under `-icount`; elsewhere `supported` says no.

use core::arch::asm;

/// PMCR_EL0.E: enable the counters.
const PMCR_E: u64 = 1 << 0;
/// The architectural event "instruction architecturally executed".
const INST_RETIRED: u64 = 0x08;
/// PMCNTENSET_EL0.P0: enable event counter 0.
const PMCNTENSET_P0: u64 = 1 << 0;

/// Whether this core's PMU implements INST_RETIRED (PMCEID0_EL0 bit 8).
pub fn supported() -> bool {
    let ceid: u64;
    // SAFETY: reading PMCEID0_EL0 has no side effects; EL2 PMU traps are off (boot).
    unsafe { asm!("mrs {}, pmceid0_el0", out(reg) ceid, options(nomem, nostack, preserves_flags)) };
    ceid & (1 << INST_RETIRED) != 0
}

/// Starts counting instructions (at EL1 and EL0) on the calling core.
pub fn start_counting() {
    // SAFETY: configures only event counter 0 of this core's PMU, which nothing else uses;
    // touches no memory.
    unsafe {
        asm!(
            "msr pmselr_el0, xzr",
            "msr pmxevtyper_el0, {event}",
            "mrs {tmp}, pmcr_el0",
            "orr {tmp}, {tmp}, {enable}",
            "msr pmcr_el0, {tmp}",
            "msr pmcntenset_el0, {counter}",
            "isb",
            event = in(reg) INST_RETIRED,
            tmp = out(reg) _,
            enable = in(reg) PMCR_E,
            counter = in(reg) PMCNTENSET_P0,
            options(nomem, nostack, preserves_flags),
        );
    }
}

/// Instructions the calling core has executed (32 bits, wrapping: use differences).
pub fn instructions() -> u32 {
    let n: u64;
    // SAFETY: reading event counter 0 has no side effects; `isb` orders it with the code around.
    unsafe {
        asm!("isb", "mrs {}, pmevcntr0_el0", out(reg) n, options(nomem, nostack, preserves_flags));
    }
    n as u32
}
