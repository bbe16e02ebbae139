//! Labelled image datasets: Fashion-MNIST (IDX), CIFAR-10 (binary batches)
//! and folders of photos in the torchvision ImageFolder layout, behind one
//! [`Dataset`] trait so training and evaluation do not care which; plus a
//! [`loader::Loader`] that decodes batches off the training thread, and the
//! class names printed with predictions ([`labels`]).
//!
//! Fixed-format sets (IDX, CIFAR) are small enough to hold in memory and are
//! validated completely at open, so reading an image cannot fail; folders can
//! be ImageNet-sized, so their files are decoded on demand and a damaged file
//! is an error for that image only.

pub mod cifar10;
pub mod fashion_mnist;
pub mod image_folder;
pub mod labels;
pub mod loader;

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatasetKind {
    FashionMnist,
    Cifar10,
    Folder,
}

impl std::str::FromStr for DatasetKind {
    type Err = DataError;
    /// "fashion-mnist", "cifar10" or "folder" (a few spellings of each).
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "fashion-mnist" | "fashion_mnist" | "fashionmnist" | "fmnist" => Ok(DatasetKind::FashionMnist),
            "cifar10" | "cifar-10" | "cifar_10" => Ok(DatasetKind::Cifar10),
            "folder" | "imagefolder" | "image-folder" => Ok(DatasetKind::Folder),
            _ => Err(DataError::UnknownKind(s.to_string())),
        }
    }
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })
}

/// How two class lists differ, for an error message (`None` when equal).
/// Labels are class indices, so a different order is a difference too.
pub fn class_difference(first: (&str, &[String]), second: (&str, &[String])) -> Option<String> {
    if first.1 == second.1 {
        return None;
    }
    let missing = |from: &[String], other: &[String]| {
        from.iter().filter(|c| !other.contains(c)).cloned().collect::<Vec<_>>().join(", ")
    };
    let (only_first, only_second) = (missing(first.1, second.1), missing(second.1, first.1));
    Some(if only_first.is_empty() && only_second.is_empty() {
        "the same classes in another order".to_string()
    } else {
        format!("only in {}: [{only_first}]; only in {}: [{only_second}]", first.0, second.0)
    })
}

/// Opens a dataset split. `dir` None = the default location (Fashion-MNIST
/// only: /usr/share/datasets/fashion-mnist, installed by the Debian package
/// `dataset-fashion-mnist`).
///
/// `channels`: 1 or 3, what the network wants; folder images are converted
/// (RGB->grey by ITU-R BT.601 luma, rounded; grey->RGB by copying), while IDX
/// (1 channel) and CIFAR (3) must match or give [`DataError::Channels`]. The
/// check comes before any file is read, so a mismatch fails fast.
pub fn open(kind: &DatasetKind, dir: Option<&Path>, split: Split, channels: u32) -> Result<Box<dyn Dataset>> {
    match kind {
        DatasetKind::FashionMnist => {
            if channels != 1 {
                return Err(DataError::Channels { dataset: "Fashion-MNIST", have: 1, want: channels });
            }
            let dir = dir.unwrap_or(Path::new(fashion_mnist::DEFAULT_DIR));
            Ok(Box::new(fashion_mnist::FashionMnist::open(dir, split)?))
        }
        DatasetKind::Cifar10 => {
            if channels != 3 {
                return Err(DataError::Channels { dataset: "CIFAR-10", have: 3, want: channels });
            }
            let dir = dir.ok_or(DataError::NeedsDir("cifar10"))?;
            Ok(Box::new(cifar10::Cifar10::open(dir, split)?))
        }
        DatasetKind::Folder => {
            let dir = dir.ok_or(DataError::NeedsDir("folder"))?;
            Ok(Box::new(image_folder::ImageFolder::open(dir, split, channels)?))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, unique per test, removed on drop.
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("host-data-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn kinds_parse_and_unknown_ones_say_what_is_accepted() {
        assert_eq!("fashion-mnist".parse::<DatasetKind>().unwrap(), DatasetKind::FashionMnist);
        assert_eq!("cifar10".parse::<DatasetKind>().unwrap(), DatasetKind::Cifar10);
        assert_eq!("folder".parse::<DatasetKind>().unwrap(), DatasetKind::Folder);
        let err = "mnist".parse::<DatasetKind>().unwrap_err().to_string();
        assert!(err.contains("'mnist'") && err.contains("fashion-mnist, cifar10 or folder"), "{err}");
    }

    #[test]
    fn channel_mismatches_and_missing_dirs_fail_before_reading() {
        let nowhere = Path::new("/nonexistent/dataset");
        let err = open(&DatasetKind::FashionMnist, Some(nowhere), Split::Test, 3).err().unwrap();
        assert!(matches!(err, DataError::Channels { have: 1, want: 3, .. }), "{err}");
        let err = open(&DatasetKind::Cifar10, Some(nowhere), Split::Test, 1).err().unwrap();
        assert!(matches!(err, DataError::Channels { have: 3, want: 1, .. }), "{err}");
        let err = open(&DatasetKind::Cifar10, None, Split::Test, 3).err().unwrap().to_string();
        assert!(err.contains("--data DIR"), "{err}");
        let err = open(&DatasetKind::Folder, Some(nowhere), Split::Train, 4).err().unwrap();
        assert!(matches!(err, DataError::UnsupportedChannels(4)), "{err}");
        let err = open(&DatasetKind::FashionMnist, Some(nowhere), Split::Test, 1).err().unwrap().to_string();
        assert!(err.contains("apt-get install dataset-fashion-mnist"), "{err}");
    }

    #[test]
    fn installed_fashion_mnist_test_split_loads() {
        let dir = Path::new(fashion_mnist::DEFAULT_DIR);
        if !dir.join("t10k-images-idx3-ubyte.gz").is_file() {
            eprintln!("note: skipped, {} is not installed (apt-get install dataset-fashion-mnist)", dir.display());
            return;
        }
        let set = open(&DatasetKind::FashionMnist, None, Split::Test, 1).unwrap();
        assert_eq!(set.len(), 10_000);
        assert_eq!(set.image_shape(), Some(Shape::new(1, 28, 28)));
        assert_eq!(set.label(0), 9);
        assert_eq!(set.classes()[9], "Ankle boot");
        let mut counts = [0usize; 10];
        (0..set.len()).for_each(|i| counts[set.label(i) as usize] += 1);
        assert_eq!(counts, [1000; 10]);
        let img = set.image(0).unwrap();
        assert_eq!((img.shape, img.pixels.len()), (Shape::new(1, 28, 28), 784));
        assert!(set.describe().starts_with("Fashion-MNIST test (10000 images, "), "{}", set.describe());
    }
}
