//! The board-independent application: banner, model peek, cycle-counter check, then UART echo
//! until the host sends EOT. Generic over HAL traits; knows nothing about the board.

use crate::hal::CycleCounter;
use core::hint::black_box;
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_io::{Read, Write, WriteFmtError};

/// Byte from the host asking the firmware to shut down (ASCII EOT).
pub const SHUTDOWN_BYTE: u8 = 0x04;
/// Test hook: this byte (ASCII NAK) makes the firmware panic.
pub const PANIC_BYTE: u8 = 0x15;
/// Bytes of the model region shown at boot.
const MODEL_PEEK_LEN: usize = 16;
/// Iterations of the busy loop timed at boot.
const BUSY_LOOP_ITERATIONS: u32 = 10_000;

/// Runs the app. Returns `Ok(())` when the host asked to shut down.
pub fn run<S, D, L, C>(
    serial: &mut S,
    delay: &mut D,
    led: &mut L,
    clock: &C,
    board_name: &str,
    model: &[u8],
) -> Result<(), WriteFmtError<S::Error>>
where
    S: Read + Write,
    D: DelayNs,
    L: OutputPin,
    C: CycleCounter,
{
    // A failing activity LED is not worth stopping for, so LED errors are ignored.
    led.set_high().ok();
    writeln!(serial, "alexnet-firmware {} board={board_name}", env!("CARGO_PKG_VERSION"))?;
    print_model_peek(serial, model)?;
    print_cycle_check(serial, delay, clock)?;
    writeln!(serial, "ready: echo on, {SHUTDOWN_BYTE:#04x} = shutdown, {PANIC_BYTE:#04x} = test panic")?;
    led.set_low().ok();
    echo(serial, led)
}

/// Prints the address and the first bytes of the model region in hex.
fn print_model_peek<S: Write>(serial: &mut S, model: &[u8]) -> Result<(), WriteFmtError<S::Error>> {
    write!(serial, "model @ {:#010x}:", model.as_ptr() as usize)?;
    for byte in model.iter().take(MODEL_PEEK_LEN) {
        write!(serial, " {byte:02x}")?;
    }
    writeln!(serial)
}

/// Times a small busy loop and a 1 ms delay with the cycle counter.
fn print_cycle_check<S, D, C>(serial: &mut S, delay: &mut D, clock: &C) -> Result<(), WriteFmtError<S::Error>>
where
    S: Write,
    D: DelayNs,
    C: CycleCounter,
{
    let start = clock.cycles();
    let mut sum = 0u32;
    for i in 0..BUSY_LOOP_ITERATIONS {
        sum = black_box(sum.wrapping_add(i));
    }
    let loop_cycles = clock.cycles().wrapping_sub(start);

    let start = clock.cycles();
    delay.delay_ms(1);
    let delay_cycles = clock.cycles().wrapping_sub(start);

    writeln!(serial, "cycles: busy loop x{BUSY_LOOP_ITERATIONS} = {loop_cycles}, delay_ms(1) = {delay_cycles}")
}

/// Echoes every byte back until `SHUTDOWN_BYTE`; `PANIC_BYTE` panics.
fn echo<S, L>(serial: &mut S, led: &mut L) -> Result<(), WriteFmtError<S::Error>>
where
    S: Read + Write,
    L: OutputPin,
{
    let mut buffer = [0u8; 64];
    let mut led_on = false;
    loop {
        let len = match serial.read(&mut buffer) {
            Ok(len) => len,
            Err(error) => {
                writeln!(serial, "\nuart read error: {error:?}")?;
                continue;
            }
        };
        led_on = !led_on;
        if led_on {
            led.set_high().ok();
        } else {
            led.set_low().ok();
        }
        for &byte in &buffer[..len] {
            match byte {
                SHUTDOWN_BYTE => {
                    writeln!(serial, "\nshutdown requested")?;
                    serial.flush()?;
                    return Ok(());
                }
                PANIC_BYTE => panic!("test panic requested"),
                _ => serial.write_all(&[byte])?,
            }
        }
    }
}
