//! A board session: test images sent to a board (the virtual one, started
//! and stopped here, or a real one on a serial port), its top-5 and cycle
//! counts collected into the JSON report `host run` writes and
//! `host compare` reads.

use super::child::BoardCommand;
use super::client::{Client, LinkStats};
use super::firmware_image::BoardKind;
use super::journal::Journal;
use super::qemu::{Link, Qemu, QemuOptions, VirtualBoard};
pub use super::records::{DeviceRecord, TestImage};
use super::BoardError;
use crate::error::{read_file, HostError, Result};
use crate::progress::Progress;
use serde::{Deserialize, Serialize};
use shared::format::AlignedBytes;
use shared::link::DeviceInfo;
use shared::Model;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    pub board: String,
    pub firmware: String,
    pub model_checksum: u32,
    pub images: Vec<DeviceRecord>,
    pub seconds: f64,
    pub frames_sent: u64,
    pub resends: u64,
    /// Images sent again because the board restarted while receiving them.
    #[serde(default)]
    pub board_restarts: u64,
    /// What each image's `cycles` counts.
    #[serde(default)]
    pub clock: DeviceClock,
    /// Card images the board ran together (`host run --batch`); each
    /// image's `cycles` and `layers` are then its share of its batch's.
    #[serde(default = "one")]
    pub batch: usize,
}

fn one() -> usize {
    1
}

/// What the board's per-image count measures. The firmware reads the CPU's
/// cycle counter (PMCCNTR_EL0) on every board; QEMU's counter runs on
/// virtual time instead of CPU cycles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceClock {
    /// A board on a serial port: CPU cycles (at its clock rate).
    #[default]
    Cycles,
    /// A virtual board: emulated nanoseconds, which follow the host's speed
    /// and load, not a Pi's.
    EmulatedNs,
    /// A virtual board under `-icount shift=0`: one instruction per virtual
    /// nanosecond, so the count is instructions, the same on every run.
    Instructions,
    /// `host serve` on a machine with an OS: its monotonic clock's
    /// nanoseconds, the wall time of each image on that machine.
    MonotonicNs,
}

impl DeviceClock {
    pub fn of(target: &Target) -> DeviceClock {
        match target {
            Target::Qemu { options, .. } if options.icount => DeviceClock::Instructions,
            Target::Qemu { .. } => DeviceClock::EmulatedNs,
            Target::Serial { .. } => DeviceClock::Cycles,
            Target::Command { .. } => DeviceClock::MonotonicNs,
        }
    }

    /// What a count of this clock is, per image.
    pub fn per_image(self) -> &'static str {
        match self {
            DeviceClock::Cycles => "cycles per image",
            DeviceClock::EmulatedNs => "emulated ns per image (QEMU's virtual time, not a Pi's)",
            DeviceClock::Instructions => "instructions per image (QEMU -icount)",
            DeviceClock::MonotonicNs => "ns per image (the board's monotonic clock)",
        }
    }
}

/// How long a virtual board may take to boot and check its model (seconds
/// for the paper model under QEMU).
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the board is.
pub enum Target {
    /// Boot this image on QEMU.
    Qemu {
        image: PathBuf,
        options: QemuOptions,
    },
    Serial {
        path: String,
        baud: u32,
    },
    /// A command that serves the link on its stdin and stdout (`host serve
    /// --stdio`, here or over ssh): one board per command started.
    Command {
        command: String,
    },
}

/// A connected board; QEMU or a board command (if any) is stopped when
/// this is dropped.
pub struct Connection {
    pub client: Client,
    qemu: Option<Qemu>,
    command: Option<BoardCommand>,
}

impl Connection {
    pub fn open(target: &Target) -> Result<Connection> {
        match target {
            Target::Qemu { image, options } => {
                let (qemu, transport) = Qemu::start(image, options.clone())?;
                let mut client = Client::new(transport);
                // QEMU's pipe holds what the UART has not taken yet; a pseudo-terminal,
                // like a cable, does not.
                client.pipelined = options.link == Link::Pipe;
                client.await_ready(BOOT_TIMEOUT)?;
                Ok(Connection { client, qemu: Some(qemu), command: None })
            }
            Target::Command { command } => {
                let (process, transport) = BoardCommand::start(command)?;
                let mut client = Client::new(transport);
                // A pipe holds what the board has not read yet.
                client.pipelined = true;
                client.await_ready(BOOT_TIMEOUT)?;
                Ok(Connection { client, qemu: None, command: Some(process) })
            }
            // A real board may have booted long ago: nothing to wait for.
            Target::Serial { path, baud } => {
                let client = Client::new(crate::board::serial::open(path, *baud)?);
                Ok(Connection { client, qemu: None, command: None })
            }
        }
    }

    /// Ends the session: a virtual board the host started is asked to stop
    /// and waited for; a board on a serial port is left serving, as the next
    /// run (or a user at a terminal) will find it.
    pub fn close(mut self) -> Result<()> {
        if let Some(q) = self.qemu.as_mut() {
            self.client.shutdown(0)?;
            q.wait(Duration::from_secs(20))?;
        }
        if let Some(c) = self.command.as_mut() {
            self.client.shutdown(0)?;
            c.wait(Duration::from_secs(20))?;
        }
        Ok(())
    }
}

/// What a run asks of the board for each image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunPlan {
    pub from: ImagesFrom,
    /// Ask for each image's time by layer as well (`DeviceRecord::layers`).
    pub layers: bool,
}

impl RunPlan {
    /// Images sent over the link, their total time only.
    pub const LINK: RunPlan = RunPlan { from: ImagesFrom::Link, layers: false };
}

/// Where the board takes the test images from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImagesFrom {
    /// Sent over the link, image by image.
    Link,
    /// Stored on the board's card after the model (`host flash --images`):
    /// the set whose body has this CRC-32 (`shared::card`), the same images
    /// as the run's, in the same order; run `batch` at a time
    /// (`Request::InferCardBatch` when more than one).
    Card { crc: u32, batch: usize },
}

impl ImagesFrom {
    /// Images per request.
    pub fn batch(self) -> usize {
        match self {
            ImagesFrom::Link => 1,
            ImagesFrom::Card { batch, .. } => batch.max(1),
        }
    }
}

/// Checks that the board answers, holds the model with `model_checksum`
/// and, for a card run, the run's test images.
fn check_board(
    conn: &mut Connection,
    model_checksum: u32,
    from: ImagesFrom,
    boot_timeout: Duration,
) -> Result<DeviceInfo> {
    let info = conn.client.hello(boot_timeout)?;
    let on_board = info.model.map_err(BoardError::Device)?;
    if on_board.checksum != model_checksum {
        return Err(HostError::Usage(format!(
            "the board holds model crc32 {:#010x}, not {model_checksum:#010x}: flash it first (host flash)",
            on_board.checksum
        )));
    }
    if let ImagesFrom::Card { crc, batch } = from {
        check_batch("--batch", "the board", batch, &info)?;
        let flash = "flash them with `host flash --images` and the run's data flags";
        match info.card {
            Ok(card) if card.crc == crc => {}
            Ok(card) => {
                return Err(HostError::Usage(format!(
                    "the board's card holds other test images ({} images, crc32 {:#010x}, not {crc:#010x}): {flash}",
                    card.images, card.crc
                )))
            }
            Err(e) => return Err(HostError::Usage(format!("the board's card: {e}: {flash}"))),
        }
    }
    Ok(info)
}

/// Refuses a batch of more images than the board holds for its model
/// (`DeviceInfo::max_batch`), naming `flag` and the `board`.
pub fn check_batch(flag: &str, board: &str, batch: usize, info: &DeviceInfo) -> Result<()> {
    if batch > 1 && batch > info.max_batch as usize {
        return Err(HostError::Usage(format!(
            "{flag} {batch}: {board} runs at most {} images of this model at once (its working memory)",
            info.max_batch
        )));
    }
    Ok(())
}

/// Progress shared by the boards of one run.
struct RunProgress {
    bar: Progress,
    done: usize,
    correct: usize,
}

impl RunProgress {
    fn record(&mut self, top1_correct: bool) {
        self.done += 1;
        self.correct += top1_correct as usize;
        let msg = format!("top-1 {:.1}%", 100.0 * self.correct as f64 / self.done as f64);
        self.bar.inc(1, &msg);
    }
}

fn report(
    clock: DeviceClock,
    batch: usize,
    info: &DeviceInfo,
    model_checksum: u32,
    images: Vec<DeviceRecord>,
    start: Instant,
    stats: LinkStats,
) -> RunReport {
    RunReport {
        board: format!("{:?}", info.board),
        firmware: format!("{}.{}.{}", info.firmware[0], info.firmware[1], info.firmware[2]),
        model_checksum,
        images,
        seconds: start.elapsed().as_secs_f64(),
        frames_sent: stats.frames_sent,
        resends: stats.resends,
        board_restarts: stats.board_restarts,
        clock,
        batch,
    }
}

/// Sends the images `indices` of `images` to one board, recording each
/// answer in `journal`; `false` if it stopped early because `abort` was set
/// (another board failed).
fn run_share(
    conn: &mut Connection,
    images: &[TestImage],
    indices: &[usize],
    plan: RunPlan,
    journal: &Mutex<&mut Journal>,
    progress: &Mutex<RunProgress>,
    abort: &AtomicBool,
) -> Result<bool> {
    for batch in indices.chunks(plan.from.batch()) {
        if abort.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let answers = match (plan.from, batch) {
            (ImagesFrom::Link, &[index]) => {
                vec![conn.client.infer(index as u32, &images[index].pixels, images[index].shape)?]
            }
            (ImagesFrom::Card { .. }, &[index]) => vec![conn.client.infer_card(index as u32)?],
            _ => conn.client.infer_card_batch(&batch.iter().map(|&i| i as u32).collect::<Vec<_>>())?,
        };
        let layers = match plan.layers {
            true => {
                let p = conn.client.layer_cycles()?;
                // A batch's figures cover all its images: each gets its share.
                let n = u64::from(p.images.max(1));
                Some(std::iter::once(p.prepare).chain(p.layers.iter().copied()).map(|c| c / n).collect::<Vec<_>>())
            }
            false => None,
        };
        for (&index, r) in batch.iter().zip(answers) {
            let image = &images[index];
            let correct = r.top5.first().is_some_and(|p| p.class as u32 == image.label);
            let record = DeviceRecord {
                index,
                label: image.label,
                top5: r.top5.iter().map(|p| (p.class, p.logit)).collect(),
                cycles: r.cycles,
                layers: layers.clone(),
            };
            journal.lock().expect("journal lock").append(record)?;
            progress.lock().expect("progress lock").record(correct);
        }
    }
    Ok(true)
}

/// Runs the images on `boards` boards of `target` at once (virtual boards:
/// one QEMU each), each taking a contiguous share, and merges their answers
/// in image order. Every board is checked to hold the model. The first
/// board to fail stops the others (their QEMUs are ended) and its error is
/// the run's. The answers are kept in memory only; see
/// [`run_images_journaled`] for a run that survives being stopped.
pub fn run_images_on_boards(
    target: &Target,
    boards: usize,
    model_checksum: u32,
    images: &[TestImage],
    boot_timeout: Duration,
) -> Result<RunReport> {
    run_images_journaled(target, boards, model_checksum, images, RunPlan::LINK, boot_timeout, &mut Journal::in_memory())
}

/// [`run_images_on_boards`] for the images `journal` has no answer to yet,
/// each new answer written to it as it arrives; the report holds every
/// answer, the journal's earlier ones included. Its time and link counters
/// are this session's.
pub fn run_images_journaled(
    target: &Target,
    boards: usize,
    model_checksum: u32,
    images: &[TestImage],
    plan: RunPlan,
    boot_timeout: Duration,
    journal: &mut Journal,
) -> Result<RunReport> {
    let pending: Vec<usize> = (0..images.len()).filter(|i| !journal.answers.contains_key(i)).collect();
    let boards = boards.clamp(1, pending.len().max(1));
    let share = pending.len().div_ceil(boards).max(1);
    // With every answer in hand, one board still says what it is.
    let shares: Vec<&[usize]> = if pending.is_empty() { vec![&[]] } else { pending.chunks(share).collect() };
    let start = Instant::now();
    let progress = Mutex::new(RunProgress { bar: Progress::new("device", pending.len() as u64), done: 0, correct: 0 });
    let abort = AtomicBool::new(false);
    let shared_journal = Mutex::new(&mut *journal);
    type BoardRun = (DeviceInfo, LinkStats);
    let results: Vec<Result<Option<BoardRun>>> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|indices| {
                let (progress, abort, journal) = (&progress, &abort, &shared_journal);
                s.spawn(move || {
                    let one = || -> Result<Option<BoardRun>> {
                        let mut conn = Connection::open(target)?;
                        let info = check_board(&mut conn, model_checksum, plan.from, boot_timeout)?;
                        if !run_share(&mut conn, images, indices, plan, journal, progress, abort)? {
                            return Ok(None);
                        }
                        let stats = conn.client.stats;
                        conn.close()?;
                        Ok(Some((info, stats)))
                    };
                    let outcome = one();
                    if outcome.is_err() {
                        abort.store(true, Ordering::Relaxed);
                    }
                    outcome
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("board thread")).collect()
    });
    progress.lock().expect("progress lock").bar.finish();
    // A board that stopped early (None) did so because another one failed:
    // that one's error comes first.
    let mut finished = Vec::with_capacity(results.len());
    for r in results {
        if let Some(run) = r? {
            finished.push(run);
        }
    }
    if finished.len() != shares.len() {
        return Err(HostError::Usage("a virtual board stopped early without an error".into()));
    }
    let (mut info, mut stats) = (None, LinkStats::default());
    for (i, s) in finished {
        info.get_or_insert(i);
        stats.frames_sent += s.frames_sent;
        stats.resends += s.resends;
        stats.board_restarts += s.board_restarts;
    }
    let info = info.ok_or_else(|| HostError::Usage("no board answered".into()))?;
    if journal.answers.len() != images.len() {
        return Err(HostError::Usage(format!(
            "{} of {} images have no answer",
            images.len() - journal.answers.len(),
            images.len()
        )));
    }
    let records = journal.answers.values().cloned().collect();
    Ok(report(DeviceClock::of(target), plan.from.batch(), &info, model_checksum, records, start, stats))
}

/// The QEMU image of `board` for `model` (with the test image set `images`
/// stored after it, if given), rebuilt when missing, older than the model or
/// than the firmware and kernel sources (an image left by an older checkout
/// would run old code), or holding other test images than `images`.
pub fn qemu_image_for(model: &Path, board: VirtualBoard, images: Option<&[u8]>) -> Result<PathBuf> {
    let kind = BoardKind::from(board);
    let dir = super::boot_files::default_dir(model, kind);
    let image = super::boot_files::image_path(&dir, kind);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let sources = crate::board::firmware_image::newest_source();
    let fresh =
        modified(&image).is_some_and(|i| modified(model).is_some_and(|m| i >= m) && sources.is_none_or(|s| i >= s));
    let bytes = AlignedBytes::new(&read_file(model)?);
    let holds_images = |set: &[u8]| {
        let wanted = shared::card::CardImages::parse(set).map(|c| c.crc()).ok();
        wanted.is_some() && super::firmware_image::stored_images_crc(&image, bytes.len()) == wanted
    };
    if !fresh || !images.is_none_or(holds_images) {
        let parsed = Model::parse(&bytes).map_err(|source| HostError::Model { path: model.to_path_buf(), source })?;
        super::boot_files::write(model, &parsed, kind, &dir, shared::settings::FLASH_BAUD, images)?;
        // A note on stderr: stdout may hold a command's JSON document alone.
        if !crate::progress::quiet() {
            eprintln!("built the virtual board's image {}", image.display());
        }
    }
    Ok(image)
}

/// Where `host run` writes, and `host compare` reads, a model's report.
pub fn default_report(model: &Path) -> PathBuf {
    model.with_extension("run.json")
}

pub fn write_report(path: &Path, report: &RunReport) -> Result<()> {
    let json = serde_json::to_vec_pretty(report).map_err(|e| HostError::Usage(format!("report: {e}")))?;
    crate::error::write_atomic(path, &json)
}

pub fn read_report(path: &Path) -> Result<RunReport> {
    serde_json::from_slice(&read_file(path)?)
        .map_err(|e| HostError::Usage(format!("{}: not a run report: {e}", path.display())))
}
