//! What every dataset reader implements and returns: the [`Dataset`] trait,
//! the decoded [`Image`], the [`Split`] to open and the [`DataError`] that
//! names what is wrong on disk. The readers (`fashion_mnist`, `cifar10`,
//! `image_folder`) and the loader import these; `data/mod.rs` dispatches to
//! the readers and re-exports these, so nothing here imports a reader.

use shared::spec::Shape;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A decoded image, CHW u8 pixels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub shape: Shape,
    pub pixels: Vec<u8>,
}

/// Everything that can be wrong with a dataset on disk; each message names
/// the file and, where there is one, the fix.
#[derive(Debug, Error)]
pub enum DataError {
    /// A directory or file the format requires is absent.
    #[error("{dataset}: {path}: not found; {fix}")]
    Missing { dataset: &'static str, path: PathBuf, fix: &'static str },
    /// The file exists but cannot be read (permissions, I/O error).
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The file was read but its contents are not what the format says.
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
    /// One image of a folder could not be decoded (corrupt, truncated, unsupported).
    #[error("{path}: cannot decode image: {reason}")]
    Decode { path: PathBuf, reason: String },
    /// The dataset's fixed channel count differs from the network's input.
    #[error(
        "{dataset} images have {have} channel(s) but the network takes {want}; use a network with --input {have}xHxW, or --dataset folder (which converts)"
    )]
    Channels { dataset: &'static str, have: u32, want: u32 },
    /// Folder images can only be converted to grey or RGB.
    #[error(
        "folder images convert to 1 (grey) or 3 (RGB) channels, not {0}; use a network with --input 1xHxW or 3xHxW"
    )]
    UnsupportedChannels(u32),
    /// The dataset has no default location.
    #[error("{0}: no default location; pass --data DIR")]
    NeedsDir(&'static str),
    #[error("unknown dataset '{0}': expected fashion-mnist, cifar10 or folder")]
    UnknownKind(String),
}

pub type Result<T> = std::result::Result<T, DataError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    /// "train" or "test", for descriptions.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// Any labelled image collection.
///
/// `label` and `image` take an index below `len()`; like slice indexing they
/// panic otherwise (a caller bug, not bad data).
pub trait Dataset: Send + Sync {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Class names, index = label.
    fn classes(&self) -> &[String];
    /// The shape every image has, when they share one (IDX, CIFAR); None for
    /// folders of arbitrary images.
    fn image_shape(&self) -> Option<Shape>;
    fn label(&self, index: usize) -> u32;
    /// Decodes image `index`. Only folders can fail here (corrupt/truncated file).
    fn image(&self, index: usize) -> Result<Image>;
    /// Short description for logs, e.g. "Fashion-MNIST train (60000 images,
    /// /usr/share/datasets/fashion-mnist)".
    fn describe(&self) -> String;
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })
}
