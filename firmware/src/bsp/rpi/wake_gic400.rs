//! Interrupt routing for `wfi` on the Pi 4 (BCM2711) and QEMU's raspi4b:
//! the GIC-400 drives each core's interrupt line (see wake.rs for what
//! these interrupts are for). UART0 is SPI 121 (interrupt ID 153), core 0's
//! non-secure physical timer PPI 14 (ID 30), and cores 1-3 are woken by
//! software-generated interrupt 0, which each acknowledges to silence it.
//!
//! The distributor is set up for group 0 without security extensions (QEMU)
//! and works unchanged where the Pi's boot stub has put every interrupt in
//! group 1 and left us the non-secure view: there bit 0 of GICD_CTLR and
//! GICC_CTLR enables group 1 instead. Interrupts are never taken (PSTATE.I
//! stays set), so no handler and no vector is involved.

use super::memory_map::GIC_BASE;

/// Distributor and CPU interface (low-peripheral mode).
const GICD: usize = GIC_BASE + 0x1000;
const GICC: usize = GIC_BASE + 0x2000;
const GICD_CTLR: usize = GICD;
const GICD_ISENABLER: usize = GICD + 0x100;
const GICD_IPRIORITYR: usize = GICD + 0x400;
const GICD_ITARGETSR: usize = GICD + 0x800;
const GICD_SGIR: usize = GICD + 0xF00;
const GICC_CTLR: usize = GICC;
const GICC_PMR: usize = GICC + 0x4;
const GICC_IAR: usize = GICC + 0xC;
const GICC_EOIR: usize = GICC + 0x10;

/// UART0: SPI 121.
const UART0_ID: usize = 32 + 121;
/// Non-secure EL1 physical timer: PPI 14.
const TIMER_ID: usize = 16 + 14;
/// The doorbell of cores 1-3.
const DOORBELL_SGI: usize = 0;
/// Our interrupts' priority and the mask that lets them through (lower is more urgent;
/// the non-secure view halves and offsets both alike).
const PRIORITY: u32 = 0xA0;
const PRIORITY_MASK: u32 = 0xF0;
/// The ID GICC_IAR reads when nothing is pending.
const SPURIOUS: u32 = 1023;

fn read(addr: usize) -> u32 {
    // SAFETY: `addr` is a GIC-400 register above, in the device memory the MMU maps for the
    // peripherals; reading GICC_IAR acknowledges an interrupt, which only `silence` does.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn write(addr: usize, value: u32) {
    // SAFETY: `addr` is a GIC-400 register above, in the device memory the MMU maps for the
    // peripherals; the writes only enable, route, prioritise, raise or end interrupts that no
    // handler takes.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) };
    // The register write must take effect before what follows (a load of a flag, a `wfi`).
    aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::SY);
}

/// Sets the byte of interrupt `id` in a byte-per-interrupt register array (word accesses only:
/// every GIC allows those).
fn set_byte(array: usize, id: usize, value: u32) {
    let word = array + (id & !3);
    let shift = 8 * (id & 3);
    write(word, (read(word) & !(0xFF << shift)) | (value << shift));
}

/// Enables interrupt `id` for this core (banked below 32) with our priority.
fn enable(id: usize) {
    set_byte(GICD_IPRIORITYR, id, PRIORITY);
    write(GICD_ISENABLER + 4 * (id / 32), 1 << (id % 32));
}

/// Lets this core's interface signal what the distributor forwards (banked per core).
fn enable_cpu_interface() {
    write(GICC_PMR, PRIORITY_MASK);
    write(GICC_CTLR, 1);
}

/// Routes UART0's interrupt and core 0's physical timer to core 0's line.
/// Call once, on core 0.
pub fn route_host_wakeup() {
    write(GICD_CTLR, 1);
    set_byte(GICD_ITARGETSR, UART0_ID, 1 << 0);
    enable(UART0_ID);
    enable(TIMER_ID);
    enable_cpu_interface();
}

/// Lets the doorbell wake `core` (called on that core).
fn enable_doorbell(_core: usize) {
    enable(DOORBELL_SGI);
    enable_cpu_interface();
}

/// Raises the doorbell SGI at `core`.
fn ring(core: usize) {
    write(GICD_SGIR, (1 << (16 + core)) | DOORBELL_SGI as u32);
}

/// Acknowledges and ends every doorbell pending at this core, so its next `wfi` sleeps
/// (called on `core` itself: the CPU interface is banked).
fn silence(_core: usize) {
    loop {
        let iar = read(GICC_IAR);
        if iar & 0x3FF == SPURIOUS {
            break;
        }
        write(GICC_EOIR, iar);
    }
}

/// The doorbell of cores 1-3.
pub const DOORBELL: crate::arch::aarch64::smp::Doorbell =
    crate::arch::aarch64::smp::Doorbell { enable: enable_doorbell, ring, silence };
