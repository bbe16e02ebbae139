//! Firmware entry: bring up the board, hand the model region and static
//! memory to the app, shut down when the host asks.

#![no_std]
#![no_main]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]

mod app;
mod arch;
mod bsp;
mod hal;
mod memory;
mod model;
mod panic;

// Boot stack of 256 pages (1 MiB), placed after .bss; firmware.ld keeps it below the model.
aarch64_rt::entry!(kernel_main, 256);

/// Called by aarch64-rt on core 0 at EL1 with the MMU, caches and FP/NEON on.
fn kernel_main(_x0: u64, _x1: u64, _x2: u64, _x3: u64) -> ! {
    let mut board = bsp::Board::take();
    let cores = bsp::start_cores();
    let result = app::run(
        &mut board.serial,
        &mut board.delay,
        &mut board.led,
        &board.cycles,
        app::Machine { board: bsp::BOARD, cores: &cores },
        model::model_region(),
        memory::take(),
    );
    match result {
        Ok(status) => bsp::shutdown(status as i32),
        Err(error) => panic!("serial link failed: {error:?}"),
    }
}
