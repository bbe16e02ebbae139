//! The virtual board: QEMU's `raspi3b` machine running a firmware image, its
//! UART on the child's stdin/stdout. The host starts and stops it, so a user
//! never types a QEMU command.

use super::transport::Transport;
use super::BoardError;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Qemu {
    child: Child,
}

/// How to start the virtual board.
#[derive(Clone, Copy, Debug, Default)]
pub struct QemuOptions {
    /// `-icount shift=0`: one instruction per virtual nanosecond, so cycle
    /// counts are deterministic instruction counts (and runs are slower).
    pub icount: bool,
}

impl Qemu {
    /// Boots `image` (a raw firmware image with the model appended).
    pub fn start(image: &Path, options: QemuOptions) -> Result<(Qemu, Transport), BoardError> {
        let mut cmd = Command::new("qemu-system-aarch64");
        cmd.args(["-M", "raspi3b", "-display", "none", "-serial", "stdio", "-semihosting", "-monitor", "none"])
            // The firmware parks cores 1-3 in `wfe`, which QEMU's TCG treats as a
            // yield, not a sleep: with one host thread per core they spin and take
            // host cores from core 0 (measured: 3.4x slower inference on 2 cores).
            // One thread for all four runs core 0 almost alone.
            .args(["-accel", "tcg,thread=single"])
            .arg("-kernel")
            .arg(image)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if options.icount {
            cmd.args(["-icount", "shift=0"]);
        }
        end_with_this_thread(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BoardError::QemuMissing,
            _ => BoardError::Io(e),
        })?;
        // Both pipes were requested above, so they are present.
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        Ok((Qemu { child }, Transport::new(stdout, stdin)))
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

/// A host killed outright (SIGKILL, OOM) runs no destructor: without this a
/// QEMU would run on with nobody reading it. Linux ends the child when the
/// thread that started it ends, which is why a `Qemu` stays on the thread
/// that started it.
#[cfg(target_os = "linux")]
fn end_with_this_thread(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: runs in the child between fork and exec; prctl is
    // async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn end_with_this_thread(_: &mut Command) {}

impl Drop for Qemu {
    fn drop(&mut self) {
        // Never leave a QEMU behind, whatever happened to the run.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
