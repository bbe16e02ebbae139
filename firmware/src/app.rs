//! The board-independent application: parse the model in place, then serve
//! the host's requests (see `shared::link`) over the serial port until it
//! asks to shut down. Generic over HAL traits; knows nothing about the board.

use crate::hal::CycleCounter;
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_io::{Read, Write};
use shared::Model;
use shared::card::{self, CardError, CardImages};
use shared::device::Device;
use shared::link::{Board, ErrorCode, FRAME_GUARD, FrameReader, MAX_FRAME, encode_frame};
use shared::parallel::Workers;

/// Firmware version reported in `DeviceInfo`.
const VERSION: [u8; 3] = [0, 1, 0];

/// What the app computes on: the board (as reported to the host) and the cores that split
/// each layer.
pub struct Machine<'w> {
    pub board: Board,
    pub cores: &'w dyn Workers,
}

/// Memory the app works in, owned by the caller (static on the board).
pub struct Memory<'b> {
    /// Inference arena and scratch (16-byte aligned).
    pub buffer: &'b mut [u8],
    /// Receive buffer for one image at its native size.
    pub image: &'b mut [u8],
}

/// Runs until the host sends `Shutdown`; returns the exit status it asked for.
pub fn run<S, D, L, C>(
    serial: &mut S,
    delay: &mut D,
    led: &mut L,
    clock: &C,
    machine: Machine<'_>,
    model_region: &'static [u8],
    memory: Memory<'_>,
) -> Result<u8, S::Error>
where
    S: Read + Write,
    D: DelayNs,
    L: OutputPin,
    C: CycleCounter,
{
    blink(led, delay, 3);
    // Text before the first frame delimiter is ignored by the host's frame
    // reader but shows up in a terminal, which helps on a real board.
    let Machine { board, cores } = machine;
    write_line(serial, format_args!("alexnet-firmware {}.{}.{} board={board:?}", VERSION[0], VERSION[1], VERSION[2]))?;
    write_line(serial, format_args!("checking model at {:#010x}...", model_region.as_ptr() as usize))?;
    let parsed = Model::parse(model_region);
    match &parsed {
        Ok(m) => write_line(
            serial,
            format_args!("model ok: {} bytes, crc32 {:#010x}, input {}", m.file_len(), m.checksum(), m.spec().input),
        )?,
        Err(e) => write_line(serial, format_args!("model refused: {e}"))?,
    }
    let model = parsed.as_ref().map_err(|e| ErrorCode::Model((*e).into()));
    // Test images `host flash --images` stored after the model, if any.
    let card = match &parsed {
        Ok(m) => CardImages::parse(model_region.get(card::offset_after_model(m.file_len())..).unwrap_or(&[])),
        Err(_) => Err(CardError::Absent),
    };
    match &card {
        Ok(set) => {
            write_line(serial, format_args!("{} test images on the card, crc32 {:#010x}", set.len(), set.crc()))?
        }
        Err(CardError::Absent) => {}
        Err(e) => write_line(serial, format_args!("test images refused: {e}"))?,
    }
    write_line(serial, format_args!("{} core(s) for inference", cores.parts()))?;
    let mut device =
        Device::new(model, memory.buffer, memory.image, board, VERSION).with_workers(cores).with_card(card);
    serve(serial, led, clock, &mut device)
}

/// Blinks the activity LED: a sign of life on a board with no serial cable.
fn blink<L: OutputPin, D: DelayNs>(led: &mut L, delay: &mut D, times: u32) {
    for _ in 0..times {
        // A failing activity LED is not worth stopping for.
        led.set_high().ok();
        delay.delay_ms(60);
        led.set_low().ok();
        delay.delay_ms(60);
    }
}

fn write_line<S: Write>(serial: &mut S, args: core::fmt::Arguments) -> Result<(), S::Error> {
    serial.write_fmt(args).map_err(|e| match e {
        embedded_io::WriteFmtError::Other(e) => e,
        // Formatting our own messages cannot fail; nothing sensible to report.
        _ => unreachable!("formatting error"),
    })?;
    serial.write_all(b"\r\n")
}

fn serve<S, L, C>(serial: &mut S, led: &mut L, clock: &C, device: &mut Device) -> Result<u8, S::Error>
where
    S: Read + Write,
    L: OutputPin,
    C: CycleCounter,
{
    let mut reader = FrameReader::default();
    let mut out = [0u8; MAX_FRAME];
    let mut bytes = [0u8; 64];
    let cycles = || clock.cycles();
    // A lone delimiter ends any noise the host may have read so far.
    serial.write_all(&[0])?;
    loop {
        let n = serial.read(&mut bytes)?;
        for &b in &bytes[..n] {
            let Some(frame) = reader.push(b) else { continue };
            // A failing activity LED is not worth stopping for.
            led.set_high().ok();
            let (seq, response, shutdown) = device.answer(frame, &cycles);
            led.set_low().ok();
            // Every response fits a frame (checked by shared's tests).
            let len = encode_frame(seq, &response, &mut out).unwrap_or(0);
            serial.write_all(&out[..len])?;
            serial.write_all(&FRAME_GUARD)?;
            if let Some(status) = shutdown {
                serial.flush()?;
                return Ok(status);
            }
        }
    }
}
