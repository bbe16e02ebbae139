//! Ending the program: exit QEMU via semihosting (feature `semihosting`), otherwise park the core.

/// Exits QEMU with `status` when built with semihosting; on hardware (or without the feature)
/// the core sleeps forever.
pub fn exit(status: i32) -> ! {
    #[cfg(feature = "semihosting")]
    semihosting::process::exit(status);
    #[cfg(not(feature = "semihosting"))]
    {
        let _ = status;
        park()
    }
}

/// Sleeps forever.
pub fn park() -> ! {
    loop {
        aarch64_cpu::asm::wfe();
    }
}
