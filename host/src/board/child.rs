//! A board that is a child process of the host (QEMU, or a command that
//! serves the link on its stdin/stdout) must not outlive it.

use super::transport::Transport;
use super::BoardError;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A host killed outright (SIGKILL, OOM) runs no destructor: without this a
/// QEMU would run on with nobody reading it. Linux ends the child when the
/// thread that started it ends, which is why a `Qemu` stays on the thread
/// that started it.
#[cfg(target_os = "linux")]
pub fn end_with_this_thread(cmd: &mut Command) {
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
pub fn end_with_this_thread(_: &mut Command) {}

/// A board reached through a command's stdin and stdout (`host run
/// --board-command`): `host serve --stdio` here or on another machine over
/// ssh, or anything else that speaks the link.
pub struct BoardCommand {
    child: Child,
}

impl BoardCommand {
    /// Starts `command` with the shell (so it may hold pipes, quotes and an
    /// ssh hop), its stderr shown as ours.
    pub fn start(command: &str) -> Result<(BoardCommand, Transport), BoardError> {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", command]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        end_with_this_thread(&mut cmd);
        let mut child = cmd.spawn()?;
        // Both pipes were requested above, so they are present.
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        Ok((BoardCommand { child }, Transport::new(stdout, stdin)))
    }

    /// Waits up to `timeout` for the command to exit (after a shutdown
    /// request); it is killed if it does not.
    pub fn wait(&mut self, timeout: Duration) -> Result<(), BoardError> {
        let deadline = Instant::now() + timeout;
        while self.child.try_wait()?.is_none() {
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for BoardCommand {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
