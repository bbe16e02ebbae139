//! Progress for long work: a bar on a terminal, plain periodic lines when
//! output goes to a file or CI log (a bar there is just noise), nothing at
//! all once [`set_quiet`] was called (a command's `--quiet`).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set once by a command's `--quiet`, for the whole process.
static QUIET: AtomicBool = AtomicBool::new(false);

/// From now on no progress and no notes on stderr (errors still go there).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether notes meant for a person (progress, skipped files) are suppressed.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    pub fn new(label: &str, total: u64) -> Self {
        let bar = (!quiet() && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            bar
        });
        let now = Instant::now();
        Progress { bar, label: label.to_string(), total, done: 0, started: now, last_line: now }
    }

    /// Advances by `n` and shows `message` (e.g. running accuracy).
    pub fn inc(&mut self, n: u64, message: &str) {
        self.done += n;
        match &self.bar {
            Some(bar) => {
                bar.set_message(message.to_string());
                bar.inc(n);
            }
            None if quiet() => {}
            None => {
                if self.last_line.elapsed() >= Duration::from_secs(10) || self.done == self.total {
                    self.last_line = Instant::now();
                    let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                    eprintln!("{}: {}/{} {message} ({rate:.1}/s)", self.label, self.done, self.total);
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
