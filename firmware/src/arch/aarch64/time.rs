//! Busy-wait delays on the Arm generic timer (CNTPCT_EL0 at CNTFRQ_EL0 Hz).

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{CNTFRQ_EL0, CNTPCT_EL0, Readable};
use embedded_hal::delay::DelayNs;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Delay provider backed by the generic timer's physical counter.
#[derive(Debug)]
pub struct GenericTimer {
    frequency_hz: u64,
}

impl GenericTimer {
    /// Reads the counter frequency the boot firmware (or QEMU) programmed into CNTFRQ_EL0.
    pub fn new() -> Self {
        let frequency_hz = CNTFRQ_EL0.get();
        assert!(frequency_hz != 0, "CNTFRQ_EL0 is not set");
        Self { frequency_hz }
    }

    /// Current counter value.
    pub fn ticks(&self) -> u64 {
        barrier::isb(barrier::SY);
        CNTPCT_EL0.get()
    }
}

impl DelayNs for GenericTimer {
    fn delay_ns(&mut self, ns: u32) {
        // Round up so that a delay never ends early.
        let ticks = (u64::from(ns) * self.frequency_hz).div_ceil(NANOS_PER_SECOND);
        let start = self.ticks();
        while self.ticks().wrapping_sub(start) < ticks {
            core::hint::spin_loop();
        }
    }
}
