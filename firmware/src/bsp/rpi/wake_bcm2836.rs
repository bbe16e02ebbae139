//! Sleeping in `wfi` instead of spinning, on the Pi 3 (BCM2837) and QEMU's
//! raspi3b: an idle core waits for an interrupt it never takes. IRQs stay
//! masked at the core (PSTATE.I), so no handler runs, but `wfi` still
//! returns once one is pending at the core's interrupt line, which the ARM
//! local peripherals (BCM2836 "QA7" block) drive:
//!
//! - core 0 waiting for the host: the UART's receive interrupts (RX and
//!   receive timeout) through the BCM2835 interrupt controller (GPU IRQ 57,
//!   routed to core 0 at reset), with core 0's physical timer as a backstop
//!   (1 ms) so a missed interrupt costs a millisecond, never a hang;
//! - cores 1-3 waiting for work: their mailbox 0, which core 0 sets after
//!   publishing a task (a doorbell, see `arch::aarch64::smp::Doorbell`).
//!
//! Under QEMU this is what lets an idle virtual board stop using a host core:
//! its TCG treats `wfe` as a yield, so a core waiting in `wfe` keeps the
//! emulator busy, while a core in `wfi` is halted. The Pi 4 routes
//! interrupts through its GIC instead and keeps the polling.

use super::memory_map::PERIPHERAL_BASE;
use aarch64_cpu::registers::{CNTFRQ_EL0, CNTP_CTL_EL0, CNTP_TVAL_EL0, Readable, Writeable};
use arm_pl011_uart::{Interrupts, Uart};

/// ARM local peripherals (core timers' and mailboxes' interrupt routing).
const LOCAL_BASE: usize = 0x4000_0000;
/// Core n's timer interrupt control (bit 1: nCNTPNSIRQ to IRQ).
const CORE_TIMER_CONTROL: usize = 0x40;
/// Core n's mailbox interrupt control (bit 0: mailbox 0 to IRQ).
const CORE_MAILBOX_CONTROL: usize = 0x50;
/// Core n's mailbox 0: write 1s to set bits (0x80 + 16n), to clear them (0xC0 + 16n).
const CORE_MAILBOX0_SET: usize = 0x80;
const CORE_MAILBOX0_CLEAR: usize = 0xC0;
/// BCM2835 interrupt controller: "Enable IRQs 2" (GPU IRQs 32-63).
const IRQ_ENABLE_2: usize = PERIPHERAL_BASE + 0xB214;
/// UART0's GPU IRQ number (57) within the second bank.
const UART0_IRQ_BIT: u32 = 1 << (57 - 32);
/// The backstop of a wait for the host.
const BACKSTOP_MS: u64 = 1;

fn write(addr: usize, value: u32) {
    // SAFETY: `addr` is one of the interrupt-routing registers above, in the
    // device memory the MMU maps for the peripherals; the write only changes
    // where interrupts go or sets/clears a mailbox.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) };
    // The register write must take effect before what follows (a load of a
    // flag, a `wfi`).
    aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::SY);
}

/// Lets received bytes (and a quiet line after some: the receive timeout)
/// and core 0's timer wake core 0. Call once, on core 0, with UART0 enabled.
pub fn enable_host_wakeup(mut uart: Uart<'static>) -> Uart<'static> {
    uart.set_interrupt_masks(Interrupts::RXI | Interrupts::RTI);
    write(IRQ_ENABLE_2, UART0_IRQ_BIT);
    write(LOCAL_BASE + CORE_TIMER_CONTROL, 1 << 1);
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

/// Lets mailbox 0 wake `core` (called on that core).
fn enable_doorbell(core: usize) {
    write(LOCAL_BASE + CORE_MAILBOX_CONTROL + 4 * core, 1);
}

/// Sets `core`'s mailbox 0.
fn ring(core: usize) {
    write(LOCAL_BASE + CORE_MAILBOX0_SET + 16 * core, 1);
}

/// Clears `core`'s mailbox 0, so its next `wfi` sleeps.
fn silence(core: usize) {
    write(LOCAL_BASE + CORE_MAILBOX0_CLEAR + 16 * core, u32::MAX);
}

/// The doorbell of cores 1-3.
pub const DOORBELL: crate::arch::aarch64::smp::Doorbell =
    crate::arch::aarch64::smp::Doorbell { enable: enable_doorbell, ring, silence };
