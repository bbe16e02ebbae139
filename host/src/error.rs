//! The host's error type: every failure a user can cause, with context, and
//! the small file helpers that attach it.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HostError {
    #[error("invalid network: {0}")]
    Spec(#[from] shared::spec::SpecError),
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Model { path: PathBuf, source: shared::FormatError },
    #[error("{path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error("training diverged: the loss is not finite at epoch {epoch}, step {step} (learning rate {lr:.2e}); the last good checkpoint is {checkpoint}; resume from it with a lower --lr")]
    Diverged { epoch: u32, step: u64, lr: f32, checkpoint: PathBuf },
    #[error("quantization failed: {0}")]
    Quantize(#[from] shared::quantize::QuantizeError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Board(#[from] crate::board::BoardError),
    #[error("{path}: {source}")]
    Import { path: PathBuf, source: crate::import::ImportError },
    /// `host compare`: the board's answers differ from host int8's.
    #[error("the device differs from host int8 on {differ} of {images} images")]
    Mismatch { differ: usize, images: usize },
}

pub type Result<T> = std::result::Result<T, HostError>;

/// Exit status of any error but a mismatch (0 is success, 2 clap's usage errors).
pub const EXIT_ERROR: i32 = 1;
/// Exit status of `host compare` when the board differs from host int8: a
/// script can tell a wrong answer from a run that could not compare at all.
pub const EXIT_MISMATCH: i32 = 3;

impl HostError {
    /// The process's exit status for this error (docs/cli.md lists them).
    pub fn exit_code(&self) -> i32 {
        match self {
            HostError::Mismatch { .. } => EXIT_MISMATCH,
            _ => EXIT_ERROR,
        }
    }
}

/// Reads a whole file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| HostError::File { path: path.to_path_buf(), source })
}

/// Refuses an output file path that names a directory, before any work
/// whose result could then not be written.
pub fn check_output_file(flag: &str, path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(HostError::Usage(format!("{flag} {}: a directory, not a file to write", path.display())));
    }
    Ok(())
}

/// Refuses an output directory path that names something other than a
/// directory (it is made if missing), before any work.
pub fn check_output_dir(flag: &str, path: &Path) -> Result<()> {
    if path.exists() && !path.is_dir() {
        return Err(HostError::Usage(format!("{flag} {}: not a directory", path.display())));
    }
    Ok(())
}

/// Writes via a temporary file and a rename, so neither a crash nor a power
/// cut leaves a half-written file under the final name: the data reaches
/// the disk (fsync) before the rename, and the rename before this returns
/// (fsync of the directory). A failed write (a full disk) removes the
/// temporary file and leaves the previous file as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// [`write_atomic`] for a file written piece by piece through a buffered
/// writer (a checkpoint streamed tensor by tensor).
pub fn write_atomic_with(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let err = |source| HostError::File { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|f| {
        let mut out = BufWriter::with_capacity(1 << 20, f);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(HostError::File { path: tmp, source });
    }
    std::fs::rename(&tmp, path).map_err(err)?;
    // Makes the rename itself durable; not every file system can open a
    // directory for this, and the data is safe either way.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_previous_file() {
        let dir = std::env::temp_dir().join(format!("alexnet-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("checkpoint.safetensors");
        write_atomic(&path, b"old").unwrap();
        // Something in the temporary file's place: its creation fails, as a
        // full disk or a lost mount would fail the write.
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        std::fs::create_dir(&tmp).unwrap();
        let err = write_atomic(&path, b"new").unwrap_err().to_string();
        assert!(err.contains("tmp."), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        std::fs::remove_dir(&tmp).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
