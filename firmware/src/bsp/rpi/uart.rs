//! PL011 UART0 on GPIO 14 (TXD) / 15 (RXD), 8N1 at the rate the image's settings give
//! (115200 without them); `arm-pl011-uart` moves the data.

use super::gpio::{Function, Gpio};
use super::memory_map::UART0_BASE;
use arm_pl011_uart::{PL011Registers, Uart, UniqueMmioPointer};
use core::ptr::NonNull;
use embedded_hal::delay::DelayNs;

/// UART reference clock: `init_uart_clock` in the config.txt `host flash` writes; QEMU ignores it.
const UART_CLOCK_HZ: u32 = 48_000_000;
const TXD_PIN: u32 = 14;
const RXD_PIN: u32 = 15;

/// A driver for UART0, without configuring it.
///
/// # Safety
///
/// No other live `Uart` may be used to access UART0 at the same time.
unsafe fn uart0() -> Uart<'static> {
    let registers = NonNull::new(UART0_BASE as *mut PL011Registers).expect("UART0_BASE is not 0");
    // SAFETY: UART0_BASE is the PL011 register block, identity-mapped as device memory for the
    // whole run; the caller guarantees no other user of these registers.
    Uart::new(unsafe { UniqueMmioPointer::new(registers) })
}

/// PL011 register offsets and bits used by `configure`.
const UARTFR: usize = 0x18;
const UARTIBRD: usize = 0x24;
const UARTFBRD: usize = 0x28;
const UARTLCR_H: usize = 0x2C;
const UARTCR: usize = 0x30;
const FR_BUSY: u32 = 1 << 3;
const LCR_H_FEN: u32 = 1 << 4;
const LCR_H_WLEN_8: u32 = 0b11 << 5;
const CR_UARTEN: u32 = 1 << 0;
const CR_TXE: u32 = 1 << 8;
const CR_RXE: u32 = 1 << 9;

/// Reads a UART0 register.
fn read(offset: usize) -> u32 {
    // SAFETY: UART0_BASE + offset is a PL011 register other than the data register, identity-
    // mapped as device memory; reading it has no side effects.
    unsafe { core::ptr::read_volatile((UART0_BASE + offset) as *const u32) }
}

/// Writes a UART0 register.
fn write(offset: usize, value: u32) {
    // SAFETY: UART0_BASE + offset is a PL011 register, identity-mapped as device memory and not
    // Rust-visible memory; only `init` calls this, before any `Uart` exists.
    unsafe { core::ptr::write_volatile((UART0_BASE + offset) as *mut u32, value) }
}

/// Sets `baud` 8N1 and enables the UART, keeping LCR_H.FEN as found.
///
/// `Uart::enable` always sets FEN, and toggling FEN empties the receive FIFO: under QEMU (FEN
/// off at reset) that dropped a byte the host had already sent in about 1 boot in 8. With FEN
/// unchanged nothing is lost: QEMU holds further input back while the 1-byte holding register is
/// full, and on hardware the FIFO stays as the Pi firmware configured it.
fn configure(baud: u32) {
    // 64 * clock / (16 * baud), rounded: integer part and 6-bit fraction of the divisor.
    let divisor_x64 = (4 * UART_CLOCK_HZ + baud / 2) / baud;
    while read(UARTFR) & FR_BUSY != 0 {}
    write(UARTCR, 0);
    write(UARTIBRD, divisor_x64 / 64);
    write(UARTFBRD, divisor_x64 % 64);
    write(UARTLCR_H, LCR_H_WLEN_8 | LCR_H_FEN);
    write(UARTCR, CR_UARTEN | CR_TXE | CR_RXE);
}

/// Routes UART0 to GPIO 14/15 and enables it. Called once, by `Board::take`.
pub(super) fn init(gpio: &mut Gpio, delay: &mut impl DelayNs, baud: u32) -> Uart<'static> {
    gpio.set_function(TXD_PIN, Function::Alt0);
    gpio.set_function(RXD_PIN, Function::Alt0);
    gpio.disable_pulls(&[TXD_PIN, RXD_PIN], delay);
    configure(baud);
    // SAFETY: `Board::take` runs once and this is the only `Uart` it creates.
    let uart = unsafe { uart0() };
    super::wake::enable_host_wakeup(uart)
}

/// UART0 for the panic handler, taken over from whoever owned it.
///
/// # Safety
///
/// Only for code that never returns to the previous owner (the panic handler): the owner's
/// `Uart` must never be used again.
pub unsafe fn panic_console() -> Uart<'static> {
    // SAFETY: forwarded from the caller: the previous owner is never used again.
    unsafe { uart0() }
}

/// UART0 as the app's serial port: reads drain whatever has arrived; with an
/// empty receiver the core sleeps until the UART's interrupt (see `wake`).
/// Under QEMU every register read takes the emulator's global lock, so tight
/// polling starved its I/O thread and added tens of milliseconds to each
/// request-reply round trip; sleeping also frees the host core an idle
/// virtual board spun on.
pub struct SerialPort {
    uart: Uart<'static>,
}

impl SerialPort {
    pub(super) fn new(uart: Uart<'static>) -> Self {
        SerialPort { uart }
    }
}

impl embedded_io::ErrorType for SerialPort {
    type Error = arm_pl011_uart::Error;
}

impl embedded_io::Read for SerialPort {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let mut n = 0;
            while n < buf.len() {
                match self.uart.read_word()? {
                    Some(b) => {
                        buf[n] = b;
                        n += 1;
                    }
                    None => break,
                }
            }
            if n > 0 {
                return Ok(n);
            }
            super::wake::wait_for_host();
        }
    }
}

impl embedded_io::Write for SerialPort {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        embedded_io::Write::write(&mut self.uart, buf)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        embedded_io::Write::flush(&mut self.uart)
    }
}
