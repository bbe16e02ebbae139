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
pub mod dataset;
pub mod fashion_mnist;
pub mod image_folder;
pub mod labels;
pub mod loader;
#[cfg(test)]
pub(crate) mod temp_dir;

pub use dataset::{DataError, Dataset, Image, Result, Split};

use std::path::Path;

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
mod tests {
    use super::*;
    use shared::spec::Shape;

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
