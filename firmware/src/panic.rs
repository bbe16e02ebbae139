//! Panic handler: prints the message over UART0, then exits QEMU with status 1.

use crate::bsp;
use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

/// Set on the first panic, so a panic inside the handler (or the exception raised by a
/// semihosting call on real hardware) parks the core instead of recursing.
static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    if PANICKING.swap(true, Ordering::AcqRel) {
        bsp::park();
    }
    // SAFETY: the panic handler never returns, so the code that owned the UART never uses its
    // `Uart` again; this is the only other `Uart` ever created (the flag above).
    let mut console = unsafe { bsp::panic_console() };
    // Nothing more can be done if the report cannot be written.
    let _ = writeln!(console, "\nPANIC: {info}");
    let _ = embedded_io::Write::flush(&mut console);
    bsp::shutdown(1)
}
