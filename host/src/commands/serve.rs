//! `host serve`: this machine as a board. The board's request loop (the
//! same `shared::device::Device` the firmware runs, the same messages and
//! framing) over stdin and stdout, so any byte stream reaches it: `host run
//! --board-command 'ssh pi@raspberrypi.local ./host serve --model m.axq
//! --stdio'` runs a test set on a Pi under Linux and `host compare` checks
//! it bit for bit. Each image is split over all cores; the time it reports
//! is the monotonic clock's, in nanoseconds.

use crate::error::{HostError, Result};
use crate::inference::int8::load_model;
use crate::inference::layer_split::PoolParts;
use clap::Args;
use shared::device::Device;
use shared::link::{Board, ErrorCode, FrameReader, FRAME_GUARD, MAX_FRAME};
use shared::Model;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

/// The version this board reports in `DeviceInfo` (the host crate's).
const VERSION: [u8; 3] = [0, 1, 0];
/// The largest image it takes at native size: a 3x1024x1024 photo.
const IMAGE_CAPACITY: usize = 3 * 1024 * 1024;

#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// The int8 model to serve.
    #[arg(long)]
    pub model: PathBuf,
    /// Serve on standard input and output (the only transport so far; text
    /// for a person goes to standard error).
    #[arg(long, required = true)]
    pub stdio: bool,
}

pub fn run(args: &ServeArgs) -> Result<()> {
    let (bytes, _) = load_model(&args.model)?;
    let parsed = Model::parse(&bytes).map_err(|source| HostError::Model { path: args.model.clone(), source })?;
    let engine =
        shared::Engine::new(&parsed).map_err(|e| HostError::Usage(format!("{}: {e:?}", args.model.display())))?;
    let mut buffer = vec![0u8; engine.buffer_len()];
    let mut image = vec![0u8; IMAGE_CAPACITY];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = PoolParts(cores);
    eprintln!(
        "host serve: model {} (crc32 {:#010x}, input {}), {cores} core(s), on stdin/stdout",
        args.model.display(),
        parsed.checksum(),
        parsed.spec().input
    );
    let model: std::result::Result<&Model, ErrorCode> = Ok(&parsed);
    let mut device = Device::new(model, &mut buffer, &mut image, Board::Linux, VERSION).with_workers(&workers);
    let start = Instant::now();
    let clock = || start.elapsed().as_nanos() as u64;
    serve(&mut std::io::stdin().lock(), &mut std::io::stdout().lock(), &mut device, &clock)
        .map_err(|e| HostError::Board(crate::board::BoardError::Io(e)))
}

/// Answers frames from `input` on `output` until a Shutdown or the end of
/// `input` (the host hung up).
fn serve(
    input: &mut impl Read,
    output: &mut impl Write,
    device: &mut Device,
    clock: &impl Fn() -> u64,
) -> std::io::Result<()> {
    let (mut reader, mut bytes, mut frame) = (FrameReader::default(), [0u8; 4096], [0u8; MAX_FRAME]);
    // A lone delimiter ends whatever the host may have read before.
    output.write_all(&[0])?;
    output.flush()?;
    loop {
        let n = match input.read(&mut bytes) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for &b in &bytes[..n] {
            let Some(request) = reader.push(b) else { continue };
            let (seq, response, shutdown) = device.answer(request, clock);
            // Every response fits a frame (checked by shared's tests).
            let len = shared::link::encode_frame(seq, &response, &mut frame).unwrap_or(0);
            output.write_all(&frame[..len])?;
            output.write_all(&FRAME_GUARD)?;
            output.flush()?;
            if shutdown.is_some() {
                return Ok(());
            }
        }
    }
}
