//! The virtual boards: QEMU's `raspi3b` (Pi 3) or `raspi4b` (Pi 4) machine
//! running a firmware image. The host starts and stops it, so a user never
//! types a QEMU command. Its UART reaches the host either on the child's
//! stdin/stdout (a pipe: QEMU holds what the UART has not taken yet) or on a
//! pseudo-terminal, which the host opens as a serial port, exactly as it
//! opens a USB-serial adapter wired to a real board.

use super::transport::Transport;
use super::BoardError;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Which Raspberry Pi QEMU emulates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum VirtualBoard {
    /// QEMU's raspi3b: a Pi 3 B (BCM2837, 4x Cortex-A53). `qemu` names it too.
    #[default]
    #[value(name = "qemu-rpi3", alias = "qemu")]
    Rpi3,
    /// QEMU's raspi4b: a Pi 4 B (BCM2711, 4x Cortex-A72, GIC-400); QEMU >= 9.
    #[value(name = "qemu-rpi4")]
    Rpi4,
}

impl VirtualBoard {
    /// QEMU's `-M` name.
    pub fn machine(self) -> &'static str {
        match self {
            VirtualBoard::Rpi3 => "raspi3b",
            VirtualBoard::Rpi4 => "raspi4b",
        }
    }
}

/// How the virtual board's UART reaches the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Link {
    /// QEMU's stdin/stdout: fastest, frames may be sent back to back.
    #[default]
    Pipe,
    /// A pseudo-terminal opened as a serial port (termios, read timeouts,
    /// short reads), one frame per reply: what a board on a cable gets.
    Pty,
}

/// How to start the virtual board.
#[derive(Clone, Debug, Default)]
pub struct QemuOptions {
    pub board: VirtualBoard,
    /// `-icount shift=0`: one instruction per virtual nanosecond, so cycle
    /// counts are deterministic instruction counts (and runs are slower).
    pub icount: bool,
    pub link: Link,
    /// Load the instruction-mix plugin; it writes its table when QEMU exits.
    pub insn_mix: Option<InsnMixPlugin>,
}

/// `-plugin PLUGIN,out=OUT` (see `host/qemu-insn-mix`).
#[derive(Clone, Debug)]
pub struct InsnMixPlugin {
    pub plugin: PathBuf,
    pub out: PathBuf,
}

pub struct Qemu {
    child: Child,
    /// The monitor's input, for a pty-linked board (its stdin is free).
    monitor: Option<ChildStdin>,
}

/// How long QEMU may take to say which pseudo-terminal it opened.
const PTY_TIMEOUT: Duration = Duration::from_secs(20);

impl Qemu {
    /// Boots `image` (a raw firmware image with the model appended) and
    /// connects to its UART as `options.link` says.
    pub fn start(image: &Path, options: QemuOptions) -> Result<(Qemu, Transport), BoardError> {
        match options.link {
            Link::Pipe => {
                let mut child = spawn(command(image, options).args(["-serial", "stdio", "-monitor", "none"]))?;
                // Both pipes were requested by `spawn`, so they are present.
                let stdin = child.stdin.take().expect("piped stdin");
                let stdout = child.stdout.take().expect("piped stdout");
                Ok((Qemu { child, monitor: None }, Transport::new(stdout, stdin)))
            }
            Link::Pty => {
                let (qemu, pty) = Qemu::start_pty(image, options)?;
                // A pseudo-terminal ignores the rate; the board's own UART runs at the
                // rate its image was built with.
                let transport = super::serial::open(&pty, shared::settings::FLASH_BAUD)?;
                Ok((qemu, transport))
            }
        }
    }

    /// Boots `image` with its UART on a new pseudo-terminal and returns that
    /// terminal's path (`/dev/pts/N`) for anyone to open as a serial port.
    /// QEMU's monitor stays on its stdin, so [`reset`](Self::reset) works.
    pub fn start_pty(image: &Path, options: QemuOptions) -> Result<(Qemu, String), BoardError> {
        let mut child = spawn(command(image, options).args(["-serial", "pty", "-monitor", "stdio"]))?;
        let monitor = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut qemu = Qemu { child, monitor };
        let pty = qemu.read_pty_path(stdout)?;
        Ok((qemu, pty))
    }

    /// Reads QEMU's "char device redirected to /dev/pts/N (label serial0)"
    /// and leaves a thread draining the monitor's output after it.
    fn read_pty_path(&mut self, stdout: impl Read + Send + 'static) -> Result<String, BoardError> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut line = String::new();
            let mut sent = false;
            // The monitor's prompts and echoes go nowhere after the path is known.
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                if !sent {
                    if let Some(path) = line.split("redirected to ").nth(1).and_then(|r| r.split_whitespace().next()) {
                        sent = tx.send(path.to_string()).is_ok();
                    }
                }
                line.clear();
            }
        });
        match rx.recv_timeout(PTY_TIMEOUT) {
            Ok(path) => Ok(path),
            Err(_) => {
                let status = self.child.try_wait()?;
                Err(BoardError::Io(std::io::Error::other(format!(
                    "QEMU named no pseudo-terminal for the board's UART within {} s{}",
                    PTY_TIMEOUT.as_secs(),
                    status.map(|s| format!(" (it exited: {s})")).unwrap_or_default()
                ))))
            }
        }
    }

    /// Resets the board as its reset line would (QEMU's `system_reset`):
    /// the firmware boots again from the top. Only for a pty-linked board,
    /// whose monitor is on QEMU's stdin.
    pub fn reset(&mut self) -> Result<(), BoardError> {
        let monitor = self.monitor.as_mut().ok_or_else(|| {
            BoardError::Io(std::io::Error::other("only a pseudo-terminal-linked virtual board can be reset"))
        })?;
        monitor.write_all(b"system_reset\n")?;
        monitor.flush()?;
        Ok(())
    }

    /// The CPU time QEMU has used so far, in seconds (Linux only).
    pub fn cpu_seconds(&self) -> Option<f64> {
        crate::process_stats::cpu_seconds(self.child.id())
    }

    /// Waits up to `timeout` for QEMU to exit (after a shutdown request).
    pub fn wait(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, BoardError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// QEMU's command line for `image` on `options.board`, without the UART's
/// and the monitor's places.
fn command(image: &Path, options: QemuOptions) -> Command {
    let mut cmd = Command::new("qemu-system-aarch64");
    cmd.args(["-M", options.board.machine(), "-display", "none", "-semihosting"])
        // The firmware's idle cores sleep in `wfi`, but it still waits in
        // `wfe` while other cores finish their part of a layer, which QEMU's
        // TCG treats as a yield, not a sleep: with one host thread per core
        // they spin and take host cores from core 0 (measured: 3.4x slower
        // inference on 2 cores). One thread for all four runs core 0 almost
        // alone.
        .args(["-accel", "tcg,thread=single"])
        .arg("-kernel")
        .arg(image);
    if options.icount {
        cmd.args(["-icount", "shift=0"]);
    }
    if let Some(mix) = &options.insn_mix {
        // QEMU splits plugin arguments at commas; callers pass paths without them.
        let mut arg = mix.plugin.clone().into_os_string();
        arg.push(",out=");
        arg.push(&mix.out);
        cmd.arg("-plugin").arg(arg);
    }
    cmd
}

fn spawn(cmd: &mut Command) -> Result<Child, BoardError> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    super::child::end_with_this_thread(cmd);
    cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BoardError::QemuMissing,
        _ => BoardError::Io(e),
    })
}

impl Drop for Qemu {
    fn drop(&mut self) {
        // Never leave a QEMU behind, whatever happened to the run.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
