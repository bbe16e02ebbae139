//! Raspberry Pi board: brings up the UART, LED, timer and cycle counter behind HAL traits.

mod gpio;
pub mod memory_map;
mod uart;
mod wake;
#[cfg(feature = "rpi3")]
mod wake_bcm2836;
#[cfg(feature = "rpi4")]
mod wake_gic400;

#[cfg(all(feature = "rpi3", feature = "rpi4"))]
compile_error!("select exactly one board feature: `rpi3` or `rpi4`, not both");
#[cfg(not(any(feature = "rpi3", feature = "rpi4")))]
compile_error!("select a board feature: `rpi3` (default) or `rpi4`");

use crate::arch::aarch64::{cycles::PmuCycleCounter, exit, smp::Cores, time::GenericTimer};
use core::sync::atomic::{AtomicBool, Ordering};
pub use gpio::GpioOutput;
pub use uart::{SerialPort, panic_console};

/// The board, as reported to the host.
#[cfg(feature = "rpi3")]
pub const BOARD: shared::link::Board = shared::link::Board::Rpi3;
#[cfg(feature = "rpi4")]
pub const BOARD: shared::link::Board = shared::link::Board::Rpi4;

/// Activity LED GPIO. Pi 3 B+: GPIO 29 (the Pi 3 B drives its LED through the firmware's GPIO
/// expander, which this does not reach). Pi 4 B: GPIO 42.
#[cfg(feature = "rpi3")]
const ACT_LED_PIN: u32 = 29;
#[cfg(feature = "rpi4")]
const ACT_LED_PIN: u32 = 42;

/// The board's devices, each behind a HAL trait (see `crate::hal`).
pub struct Board {
    /// UART0: `embedded_io::{Read, Write}`.
    pub serial: SerialPort,
    /// Busy-wait delays: `embedded_hal::delay::DelayNs`.
    pub delay: GenericTimer,
    /// Activity LED: `embedded_hal::digital::OutputPin`.
    pub led: GpioOutput,
    /// CPU cycle counter: `crate::hal::CycleCounter`.
    pub cycles: PmuCycleCounter,
}

static TAKEN: AtomicBool = AtomicBool::new(false);

impl Board {
    /// Brings up the devices. Panics if called twice.
    pub fn take() -> Self {
        assert!(!TAKEN.swap(true, Ordering::AcqRel), "Board::take called twice");
        let mut delay = GenericTimer::new();
        let mut gpio = gpio::Gpio::new();
        let baud = shared::settings::baud(&crate::model::settings());
        let serial = SerialPort::new(uart::init(&mut gpio, &mut delay, baud));
        let led = gpio.output_pin(ACT_LED_PIN);
        Self { serial, delay, led, cycles: PmuCycleCounter::new() }
    }
}

/// Starts cores 1-3 for inference (see `arch::aarch64::smp`); one core if they do not answer.
pub fn start_cores() -> Cores {
    // A core comes up in microseconds; QEMU may take longer to schedule it.
    Cores::start(memory_map::SPIN_TABLE, memory_map::IMAGE_LOAD_ADDRESS, 500, Some(wake::DOORBELL))
}

/// Ends the program: under QEMU (with `-semihosting`) exits with `status`; otherwise parks.
pub fn shutdown(status: i32) -> ! {
    exit::exit(status)
}

/// Sleeps forever.
pub fn park() -> ! {
    exit::park()
}
