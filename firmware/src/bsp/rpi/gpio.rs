//! GPIO controller: pin function select, pull-up/down control and an `OutputPin` (activity LED).

use super::memory_map::GPIO_BASE;
use core::convert::Infallible;
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{ErrorType, OutputPin};

/// GPFSEL0: function select, 3 bits per pin, 10 pins per register.
const GPFSEL0: usize = 0x00;
/// GPSET0: write 1 to drive a pin high.
const GPSET0: usize = 0x1C;
/// GPCLR0: write 1 to drive a pin low.
const GPCLR0: usize = 0x28;
/// BCM2837 GPPUD: pull-up/down control for the following clock strobe.
#[cfg(feature = "rpi3")]
const GPPUD: usize = 0x94;
/// BCM2837 GPPUDCLK0: clock the GPPUD setting into pins 0-31.
#[cfg(feature = "rpi3")]
const GPPUDCLK0: usize = 0x98;
/// BCM2711 GPIO_PUP_PDN_CNTRL_REG0: 2 bits per pin, 16 pins per register.
#[cfg(feature = "rpi4")]
const GPIO_PUP_PDN_CNTRL_REG0: usize = 0xE4;

/// Alternate functions used here.
#[derive(Clone, Copy, Debug)]
pub enum Function {
    Output = 0b001,
    Alt0 = 0b100,
}

/// Reads a GPIO register.
fn read(offset: usize) -> u32 {
    // SAFETY: GPIO_BASE + offset is a GPIO controller register, identity-mapped as device
    // memory; reading it has no side effects.
    unsafe { core::ptr::read_volatile((GPIO_BASE + offset) as *const u32) }
}

/// Writes a GPIO register.
fn write(offset: usize, value: u32) {
    // SAFETY: GPIO_BASE + offset is a GPIO controller register, identity-mapped as device
    // memory. It is not Rust-visible memory, so the write cannot break any Rust invariant.
    unsafe { core::ptr::write_volatile((GPIO_BASE + offset) as *mut u32, value) }
}

/// The GPIO controller (pin configuration). Exists once, owned by the board during bring-up.
#[derive(Debug)]
pub struct Gpio {
    _private: (),
}

impl Gpio {
    /// Must be called at most once (only `Board::take` does).
    pub(super) fn new() -> Self {
        Self { _private: () }
    }

    /// Selects the function of `pin`.
    pub fn set_function(&mut self, pin: u32, function: Function) {
        let offset = GPFSEL0 + 4 * (pin / 10) as usize;
        let shift = 3 * (pin % 10);
        let value = (read(offset) & !(0b111 << shift)) | ((function as u32) << shift);
        write(offset, value);
    }

    /// Disables the pull-up/down resistors of `pins` (all below 32).
    #[cfg(feature = "rpi3")]
    pub fn disable_pulls(&mut self, pins: &[u32], delay: &mut impl DelayNs) {
        let mask = pins.iter().fold(0u32, |mask, pin| mask | (1 << pin));
        // BCM2835 datasheet sequence: set control, wait 150 cycles, clock, wait, release.
        write(GPPUD, 0);
        delay.delay_us(1);
        write(GPPUDCLK0, mask);
        delay.delay_us(1);
        write(GPPUD, 0);
        write(GPPUDCLK0, 0);
    }

    /// Disables the pull-up/down resistors of `pins`.
    #[cfg(feature = "rpi4")]
    pub fn disable_pulls(&mut self, pins: &[u32], _delay: &mut impl DelayNs) {
        for &pin in pins {
            let offset = GPIO_PUP_PDN_CNTRL_REG0 + 4 * (pin / 16) as usize;
            let shift = 2 * (pin % 16);
            write(offset, read(offset) & !(0b11 << shift));
        }
    }

    /// Configures `pin` as an output and returns a handle that drives it.
    pub fn output_pin(&mut self, pin: u32) -> GpioOutput {
        self.set_function(pin, Function::Output);
        GpioOutput { pin }
    }
}

/// A GPIO output pin. GPSET/GPCLR only affect the pins whose bit is written, so handles to
/// different pins never interfere.
#[derive(Debug)]
pub struct GpioOutput {
    pin: u32,
}

impl GpioOutput {
    fn bank_offset(&self, base: usize) -> (usize, u32) {
        (base + 4 * (self.pin / 32) as usize, 1 << (self.pin % 32))
    }
}

impl ErrorType for GpioOutput {
    type Error = Infallible;
}

impl OutputPin for GpioOutput {
    fn set_low(&mut self) -> Result<(), Infallible> {
        let (offset, bit) = self.bank_offset(GPCLR0);
        write(offset, bit);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        let (offset, bit) = self.bank_offset(GPSET0);
        write(offset, bit);
        Ok(())
    }
}
