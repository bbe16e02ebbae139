//! CPU cycle counter from the PMU (PMCCNTR_EL0).

use crate::hal::CycleCounter;
use core::arch::asm;

/// PMCR_EL0.E: enable the counters.
const PMCR_E: u64 = 1 << 0;
/// PMCR_EL0.C: reset the cycle counter.
const PMCR_C: u64 = 1 << 2;
/// PMCR_EL0.LC: 64-bit cycle counter overflow.
const PMCR_LC: u64 = 1 << 6;
/// PMCNTENSET_EL0.C: enable the cycle counter.
const PMCNTENSET_C: u64 = 1 << 31;

/// The PMU cycle counter, counting at EL1 and EL0.
#[derive(Debug)]
pub struct PmuCycleCounter {
    _private: (),
}

impl PmuCycleCounter {
    /// Enables and resets the cycle counter.
    pub fn new() -> Self {
        // SAFETY: these writes only configure the PMU cycle counter, which nothing else in the
        // firmware uses; they touch no memory. EL2 trapping of PMU accesses was disabled at boot.
        unsafe {
            asm!(
                "msr pmccfiltr_el0, xzr",
                "mrs {tmp}, pmcr_el0",
                "orr {tmp}, {tmp}, {bits}",
                "msr pmcr_el0, {tmp}",
                "msr pmcntenset_el0, {enable}",
                "isb",
                tmp = out(reg) _,
                bits = in(reg) PMCR_E | PMCR_C | PMCR_LC,
                enable = in(reg) PMCNTENSET_C,
                options(nomem, nostack, preserves_flags),
            );
        }
        Self { _private: () }
    }
}

impl CycleCounter for PmuCycleCounter {
    fn cycles(&self) -> u64 {
        let cycles: u64;
        // SAFETY: reading PMCCNTR_EL0 has no side effects; `isb` keeps it ordered with the
        // surrounding instructions so the measurement brackets the code in between.
        unsafe {
            asm!(
                "isb",
                "mrs {}, pmccntr_el0",
                out(reg) cycles,
                options(nomem, nostack, preserves_flags),
            );
        }
        cycles
    }
}
