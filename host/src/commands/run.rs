//! `host run`: test images to a board (the virtual one, or a real one on a
//! serial port) and its answers into a JSON report for `host compare`.
//! Answers are journaled as they arrive (REPORT.partial), so a stopped run
//! continues with `--resume`.

use crate::args::data::TestSetArgs;
use crate::args::values;
use crate::board::journal::{journal_path, Journal, RunIdentity};
use crate::board::qemu::{Link, QemuOptions, VirtualBoard};
use crate::board::records::card_set;
use crate::board::session::{
    default_report, qemu_image_for, read_report, run_images_journaled, write_report, ImagesFrom, RunPlan, Target,
    BOOT_TIMEOUT,
};
use crate::error::{check_output_file, HostError, Result};
use crate::inference::int8::load_model;
use clap::Args;
use shared::card::CardImages;
use shared::Model;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, Args)]
#[command(after_help = "Examples:
  host run --board qemu --model runs/fmnist/alexnet-int8.axq --limit 100
  host run --board qemu --model runs/fmnist/alexnet-int8.axq --from-card --layers
  host run --serial /dev/ttyUSB0 --model runs/fmnist/alexnet-int8.axq --resume")]
pub struct RunArgs {
    /// The int8 model the board runs (flashed with `host flash`; the virtual
    /// board's image is rebuilt when the model or the firmware is newer).
    #[arg(long)]
    pub model: PathBuf,
    /// Boot a virtual board for this run (the default without --serial):
    /// qemu-rpi3 (QEMU raspi3b; `qemu` is the same) or qemu-rpi4 (raspi4b).
    #[arg(long, value_enum, conflicts_with = "serial")]
    pub board: Option<VirtualBoard>,
    /// How a virtual board's UART reaches the host: QEMU's pipe, or a
    /// pseudo-terminal opened as a serial port (as a cable to a real board).
    #[arg(long, value_enum, default_value_t = Link::Pipe, conflicts_with = "serial")]
    pub link: Link,
    /// A real board's serial port, e.g. /dev/ttyUSB0.
    #[arg(long, value_hint = clap::ValueHint::FilePath, conflicts_with = "board_command")]
    pub serial: Option<String>,
    /// A command that serves the link on its stdin/stdout, e.g.
    /// 'ssh pi@raspberrypi.local ./host serve --model m.axq --stdio' for a
    /// Pi running Linux (run with the shell).
    #[arg(long, conflicts_with = "board")]
    pub board_command: Option<String>,
    /// The serial rate the board was flashed with (`host flash --baud`).
    #[arg(long, default_value_t = shared::settings::FLASH_BAUD, value_parser = values::baud())]
    pub baud: u32,
    #[command(flatten)]
    pub test: TestSetArgs,
    /// Where the device's answers go (default: MODEL with extension .run.json).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Run the test images stored on the board's card after the model
    /// (`host flash --images` with the same data flags and --limit) instead
    /// of sending them: only each image's top-5 and cycle count come back,
    /// so the board's own speed shows, not the serial line's. A virtual
    /// board's image is built with them.
    #[arg(long)]
    pub from_card: bool,
    /// Card images the board runs together (at most 8, and as many as its
    /// memory holds for the model: 4 of the paper network): dense layers
    /// read their weights once for every four images, as the host's int8
    /// engine does over a batch. The answers are the same; the report's
    /// times are each image's share of its batch.
    #[arg(long, default_value_t = 1, value_parser = values::count(1..=shared::link::MAX_BATCH as u64))]
    pub batch: usize,
    /// Ask the board for each image's time by layer as well (its cycle
    /// counter on a real board); `host compare` prints the mean per layer.
    #[arg(long)]
    pub layers: bool,
    /// Virtual board: count instructions (-icount), deterministic and slower.
    #[arg(long)]
    pub icount: bool,
    /// Virtual boards to run at once, each on a share of the images
    /// (default: one per core). A real board on a serial port is one board.
    #[arg(long, conflicts_with = "serial", value_parser = values::count(1..))]
    pub boards: Option<usize>,
    /// Replace REPORT though it holds a board run that took more than a
    /// minute.
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Continue a run that was stopped (Ctrl-C, a kill, a board reset, a
    /// pulled cable): keep the answers journaled in REPORT.partial and send
    /// only the images without one.
    #[arg(long, conflicts_with = "restart")]
    pub resume: bool,
    /// Start afresh even though a stopped run's journal is there.
    #[arg(long)]
    pub restart: bool,
}

/// A board run that took longer than this is not replaced without `--overwrite`.
const COSTLY_RUN: Duration = Duration::from_secs(60);

/// Refuses, before anything is loaded or booted, what the run could not
/// finish or would lose: a report path that is a directory, a stopped run's
/// journal not asked about, `--resume` without one, and a costly finished
/// report without `--overwrite`.
fn check_outputs(args: &RunArgs, report: &Path) -> Result<()> {
    check_output_file("--report", report)?;
    let journal = journal_path(report);
    match (journal.exists(), args.resume, args.restart) {
        (false, true, _) => {
            return Err(HostError::Usage(format!(
                "--resume: no stopped run to continue ({} does not exist)",
                journal.display()
            )))
        }
        (true, false, false) => {
            return Err(HostError::Usage(format!(
                "a stopped run left its answers in {}: continue it with --resume, or start over with --restart",
                journal.display()
            )))
        }
        _ => {}
    }
    // A file that is not a report (or not readable) is no board run's work.
    if let (false, Ok(old)) = (args.resume || args.overwrite, read_report(report)) {
        if old.seconds >= COSTLY_RUN.as_secs_f64() {
            return Err(HostError::Usage(format!(
                "--report {} holds a board run of {} images that took {:.0} s: replace it with --overwrite, \
                 or give this run another --report",
                report.display(),
                old.images.len(),
                old.seconds
            )));
        }
    }
    Ok(())
}

/// The journal this run writes its answers to: the stopped run's, resumed,
/// or a new one (made when the first answer is in). A journal left by a
/// stopped run is never thrown away unasked ([`check_outputs`]).
fn open_journal(args: &RunArgs, report: &Path, identity: RunIdentity) -> Result<Journal> {
    let path = journal_path(report);
    if !args.resume {
        return Ok(Journal::create(&path, identity));
    }
    let journal = Journal::resume(&path, identity)?;
    println!("resuming: {} of {} images already answered ({})", journal.answers.len(), identity.images, path.display());
    Ok(journal)
}

pub fn run(args: &RunArgs) -> Result<()> {
    if args.batch > 1 && !args.from_card {
        return Err(HostError::Usage(format!(
            "--batch {}: batches are of images stored on the board's card; add --from-card",
            args.batch
        )));
    }
    let path = args.report.clone().unwrap_or_else(|| default_report(&args.model));
    check_outputs(args, &path)?;
    let (bytes, checksum) = load_model(&args.model)?;
    let spec =
        Model::parse(&bytes).map_err(|source| HostError::Model { path: args.model.clone(), source })?.spec().clone();
    let (images, skipped) = args.test.board_images(&spec)?;
    if images.is_empty() {
        return Err(HostError::Usage("no test images to send".into()));
    }
    // On the card, the images are the set `host flash --images` stores for the same data flags.
    let card = match args.from_card {
        true => Some(card_set(&images).map_err(HostError::Usage)?),
        false => None,
    };
    let from = match &card {
        Some(set) => {
            let crc = CardImages::parse(set).map_err(|e| HostError::Usage(e.to_string()))?.crc();
            ImagesFrom::Card { crc, batch: args.batch }
        }
        None => ImagesFrom::Link,
    };
    let target = match (&args.serial, &args.board_command, args.board) {
        (Some(path), _, _) => Target::Serial { path: path.clone(), baud: args.baud },
        (None, Some(command), _) => Target::Command { command: command.clone() },
        (None, None, board) => {
            let board = board.unwrap_or_default();
            let options = QemuOptions { board, icount: args.icount, link: args.link, insn_mix: None };
            Target::Qemu { image: qemu_image_for(&args.model, board, card.as_deref())?, options }
        }
    };
    let boards = match target {
        Target::Serial { .. } => 1,
        Target::Command { .. } => args.boards.unwrap_or(1),
        Target::Qemu { .. } => {
            args.boards.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        }
    };
    let mut journal = open_journal(args, &path, RunIdentity::of(checksum, &images))?;
    let earlier = journal.answers.len();
    let plan = RunPlan { from, layers: args.layers };
    let report = run_images_journaled(&target, boards, checksum, &images, plan, BOOT_TIMEOUT, &mut journal)?;
    write_report(&path, &report)?;
    journal.finish()?;
    let correct = report.images.iter().filter(|r| r.top5.first().is_some_and(|p| p.0 as u32 == r.label)).count();
    let sent = report.images.len() - earlier;
    println!(
        "{}: {} images{} on {boards} board{} in {:.1} s ({:.2} s/image{}), device top-1 {:.2}%, {} frames sent, {} resent{}; report {}",
        report.board,
        report.images.len(),
        if earlier > 0 { format!(" ({earlier} answered before, {sent} now)") } else { String::new() },
        if boards == 1 { "" } else { "s" },
        report.seconds,
        report.seconds / sent.max(1) as f64,
        if skipped > 0 { format!(", {skipped} undecodable skipped") } else { String::new() },
        100.0 * correct as f64 / report.images.len() as f64,
        report.frames_sent,
        report.resends,
        match report.board_restarts {
            0 => String::new(),
            n => format!(", {n} image{} sent again after a board restart", if n == 1 { "" } else { "s" }),
        },
        path.display()
    );
    Ok(())
}
