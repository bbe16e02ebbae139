//! Interrupt routing for `wfi` on the Pi 3 (BCM2837) and QEMU's raspi3b: the
//! ARM local peripherals (BCM2836 "QA7" block) drive each core's interrupt
//! line. UART0's receive interrupts reach core 0 through the BCM2835
//! interrupt controller (GPU IRQ 57, routed to core 0 at reset), core 0's
//! physical timer through its timer control, and cores 1-3 are woken by
//! their mailbox 0 (see wake.rs for what these are for).

use super::memory_map::PERIPHERAL_BASE;

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

fn write(addr: usize, value: u32) {
    // SAFETY: `addr` is one of the interrupt-routing registers above, in the
    // device memory the MMU maps for the peripherals; the write only changes
    // where interrupts go or sets/clears a mailbox.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) };
    // The register write must take effect before what follows (a load of a
    // flag, a `wfi`).
    aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::SY);
}

/// Routes UART0's interrupt and core 0's physical timer to core 0's line.
/// Call once, on core 0.
pub fn route_host_wakeup() {
    write(IRQ_ENABLE_2, UART0_IRQ_BIT);
    write(LOCAL_BASE + CORE_TIMER_CONTROL, 1 << 1);
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
