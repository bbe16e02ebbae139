//! The host's error type: every failure a user can cause, with context.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum HostError {
    #[error("invalid network: {0}")]
    Spec(#[from] shared::spec::SpecError),
    #[error("{0}")]
    Usage(String),
}

pub type Result<T> = std::result::Result<T, HostError>;
