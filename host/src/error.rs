//! The host's error type: every failure a user can cause, with context, and
//! the small file helpers that attach it.

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
}

pub type Result<T> = std::result::Result<T, HostError>;

/// Reads a whole file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| HostError::File { path: path.to_path_buf(), source })
}

/// Writes via a temporary file and a rename, so a crash never leaves a
/// half-written file under the final name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |source| HostError::File { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|source| HostError::File { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, path).map_err(err)
}
