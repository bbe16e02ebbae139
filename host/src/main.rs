//! `host`: the workstation side of the project. Each subcommand lives in its
//! own module of the `host` library; errors surface as one line on stderr and
//! a non-zero exit: 1, or 3 for `compare`'s mismatch (clap's usage errors
//! exit 2).

#![deny(clippy::undocumented_unsafe_blocks)]

/// Lets a closed pipe end the process quietly, as it ends `ls` or `cat`:
/// Rust ignores SIGPIPE, so `host info --model m.bin | head` would panic on
/// the next print ("failed printing to stdout") with a backtrace.
#[cfg(unix)]
fn die_on_closed_pipe() {
    // SAFETY: restores the default action of one signal before any other
    // thread exists; no handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn die_on_closed_pipe() {}

fn main() {
    die_on_closed_pipe();
    host::malloc::keep_freed_memory();
    let cli = host::cli::parse();
    if let Err(e) = host::cli::run(cli) {
        // One line whatever the source: some decoders end messages with a newline.
        let message = e.to_string();
        let parts: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        eprintln!("error: {}", parts.join("; "));
        std::process::exit(e.exit_code());
    }
}
