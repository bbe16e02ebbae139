//! Physical memory map of the selected Pi: load address, peripheral addresses, MMU regions.

#[cfg(feature = "rpi3")]
mod soc {
    /// BCM2837 peripherals (ARM physical address).
    pub const PERIPHERAL_BASE: usize = 0x3F00_0000;
    /// Mapped as normal cacheable memory: all RAM below the peripherals.
    pub const NORMAL_END: usize = 0x3F00_0000;
    /// Device memory: the peripherals and the 1 GiB block with the ARM local peripherals.
    pub const DEVICE_START: usize = 0x3F00_0000;
    pub const DEVICE_END: usize = 0x8000_0000;
}

#[cfg(feature = "rpi4")]
mod soc {
    /// BCM2711 peripherals in low-peripheral mode (ARM physical address).
    pub const PERIPHERAL_BASE: usize = 0xFE00_0000;
    /// Mapped as normal cacheable memory: the first GiB of RAM (present on every Pi 4).
    pub const NORMAL_END: usize = 0x4000_0000;
    /// Device memory: the top GiB of the 32-bit space (peripherals, GIC, local peripherals).
    pub const DEVICE_START: usize = 0xC000_0000;
    pub const DEVICE_END: usize = 0x1_0000_0000;
    /// GIC-400 (low-peripheral mode): distributor at +0x1000, CPU interface at +0x2000.
    pub const GIC_BASE: usize = 0xFF84_0000;
}

#[cfg(feature = "rpi4")]
pub use soc::GIC_BASE;
pub use soc::{DEVICE_END, DEVICE_START, NORMAL_END, PERIPHERAL_BASE};

/// Where the boot firmware (and QEMU's `-kernel`) loads the raw image: `_start` is here.
pub const IMAGE_LOAD_ADDRESS: usize = 0x8_0000;
/// The boot stub's spin table (Pi armstub8 and QEMU's raspi3b alike): one 64-bit word per
/// core; a secondary core jumps to the address written to its word.
pub const SPIN_TABLE: usize = 0xd8;
/// GPIO controller.
pub const GPIO_BASE: usize = PERIPHERAL_BASE + 0x20_0000;
/// PL011 UART0.
pub const UART0_BASE: usize = PERIPHERAL_BASE + 0x20_1000;
