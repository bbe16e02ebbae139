//! Sleeping in `wfi` instead of spinning: an idle core waits for an
//! interrupt it never takes. IRQs stay masked at the core (PSTATE.I), so no
//! handler runs, but `wfi` still returns once one is pending at the core's
//! interrupt line. Which controller drives that line is the SoC's business
//! (`wake_bcm2836` on the Pi 3, `wake_gic400` on the Pi 4); what wakes whom
//! is the same on both:
//!
//! - core 0 waiting for the host: the UART's receive interrupts (RX and
//!   receive timeout), with core 0's physical timer as a backstop (1 ms) so
//!   a missed interrupt costs a millisecond, never a hang;
//! - cores 1-3 waiting for work: a doorbell that core 0 rings after
//!   publishing a task (see `arch::aarch64::smp::Doorbell`).
//!
//! Under QEMU this is what lets an idle virtual board stop using a host core:
//! its TCG treats `wfe` as a yield, so a core waiting in `wfe` (or polling)
//! keeps the emulator busy, while a core in `wfi` is halted.

#[cfg(feature = "rpi3")]
use super::wake_bcm2836 as soc;
#[cfg(feature = "rpi4")]
use super::wake_gic400 as soc;
use aarch64_cpu::registers::{CNTFRQ_EL0, CNTP_CTL_EL0, CNTP_TVAL_EL0, Readable, Writeable};
use arm_pl011_uart::{Interrupts, Uart};

/// The backstop of a wait for the host.
const BACKSTOP_MS: u64 = 1;

/// The doorbell of cores 1-3.
pub const DOORBELL: crate::arch::aarch64::smp::Doorbell = soc::DOORBELL;

/// Lets received bytes (and a quiet line after some: the receive timeout)
/// and core 0's timer wake core 0. Call once, on core 0, with UART0 enabled.
pub fn enable_host_wakeup(mut uart: Uart<'static>) -> Uart<'static> {
    uart.set_interrupt_masks(Interrupts::RXI | Interrupts::RTI);
    soc::route_host_wakeup();
    uart
}

/// Sleeps until the UART may have received something or the backstop
/// passes. The caller checks the receiver again afterwards: a byte that
/// arrived before this call keeps the interrupt pending, so nothing is lost
/// between the check and the `wfi`.
pub fn wait_for_host() {
    CNTP_TVAL_EL0.set(CNTFRQ_EL0.get() * BACKSTOP_MS / 1000);
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::CLEAR);
    aarch64_cpu::asm::wfi();
    // A fired timer keeps its interrupt asserted until it is disabled.
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::CLEAR);
}
