//! Fashion-MNIST in its original IDX format, gzipped as the Debian package
//! `dataset-fashion-mnist` installs it (or un-gzipped), held in memory: the
//! training split is 47 MB, and having it all validated at open means reading
//! an image later cannot fail.

use super::dataset::{read, DataError, Dataset, Image, Result, Split};
use flate2::read::GzDecoder;
use shared::spec::Shape;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where the Debian package `dataset-fashion-mnist` puts the files.
pub const DEFAULT_DIR: &str = "/usr/share/datasets/fashion-mnist";
const FIX: &str =
    "install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data DIR";
/// Class names, index = label (from the dataset's README).
pub const CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// One split, all pixels (N x rows x cols, row-major) and labels in memory.
pub struct FashionMnist {
    dir: PathBuf,
    split: Split,
    classes: Vec<String>,
    images: Vec<u8>,
    labels: Vec<u8>,
    shape: Shape,
}

/// The contents of `name.gz` (un-gzipped) or else of `name`, and the path read.
fn read_idx(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>)> {
    let gz = dir.join(format!("{name}.gz"));
    let plain = dir.join(name);
    if gz.is_file() {
        let out = gunzip(&gz, &read(&gz)?)?;
        Ok((gz, out))
    } else if plain.is_file() {
        Ok((plain.clone(), read(&plain)?))
    } else {
        Err(DataError::Missing { dataset: "fashion-mnist", path: gz, fix: FIX })
    }
}

/// Un-gzips `bytes`, the contents of `path` (which errors name).
pub fn gunzip(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).map_err(|e| DataError::Format {
        path: path.to_path_buf(),
        reason: format!("bad gzip data ({e}); the file is damaged, reinstall or re-download it"),
    })?;
    Ok(out)
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checks an IDX header (magic, `dims` big-endian sizes) against the file's
/// length and returns the sizes; the data starts at `4 + 4 * dims`.
fn idx_dims(path: &Path, bytes: &[u8], magic: u32, dims: usize) -> Result<Vec<u32>> {
    let bad = |reason: String| DataError::Format { path: path.to_path_buf(), reason };
    let header = 4 + 4 * dims;
    if bytes.len() < header {
        return Err(bad(format!("truncated IDX header ({} bytes)", bytes.len())));
    }
    if be32(bytes, 0) != magic {
        return Err(bad(format!(
            "IDX magic {:#010x}, expected {magic:#010x}; not an IDX file of this kind (images and labels swapped?)",
            be32(bytes, 0)
        )));
    }
    let d: Vec<u32> = (0..dims).map(|i| be32(bytes, 4 + 4 * i)).collect();
    if d.iter().skip(1).any(|&n| n == 0) {
        return Err(bad(format!("image size {d:?} has a zero dimension")));
    }
    let expected = d.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n as usize)).and_then(|n| n.checked_add(header));
    match expected {
        Some(n) if n == bytes.len() => Ok(d),
        Some(n) => Err(bad(format!(
            "{} bytes, but the header {d:?} promises {n}; the file is truncated or damaged",
            bytes.len()
        ))),
        None => Err(bad(format!("impossible IDX sizes {d:?}"))),
    }
}

impl FashionMnist {
    /// Reads and validates one split from `dir` (see [`DEFAULT_DIR`]).
    pub fn open(dir: &Path, split: Split) -> Result<FashionMnist> {
        if !dir.is_dir() {
            return Err(DataError::Missing { dataset: "fashion-mnist", path: dir.to_path_buf(), fix: FIX });
        }
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let images = read_idx(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels = read_idx(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        FashionMnist::from_idx(dir, split, images, labels)
    }

    /// Validates one split from the contents of its images and labels files
    /// (un-gzipped), each with the path that names it in errors.
    pub fn from_idx(
        dir: &Path,
        split: Split,
        (ipath, mut images): (PathBuf, Vec<u8>),
        (lpath, mut labels): (PathBuf, Vec<u8>),
    ) -> Result<FashionMnist> {
        let d = idx_dims(&ipath, &images, IMAGES_MAGIC, 3)?;
        let l = idx_dims(&lpath, &labels, LABELS_MAGIC, 1)?;
        if d[0] != l[0] {
            return Err(DataError::Format {
                path: lpath,
                reason: format!("{} labels for {} images in {}", l[0], d[0], ipath.display()),
            });
        }
        labels.drain(..8);
        if let Some(i) = labels.iter().position(|&l| l as usize >= CLASSES.len()) {
            return Err(DataError::Format {
                path: lpath,
                reason: format!("label {} at index {i}, expected 0..=9", labels[i]),
            });
        }
        images.drain(..16);
        Ok(FashionMnist {
            dir: dir.to_path_buf(),
            split,
            classes: CLASSES.map(String::from).to_vec(),
            images,
            labels,
            shape: Shape::new(1, d[1], d[2]),
        })
    }
}

impl Dataset for FashionMnist {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn classes(&self) -> &[String] {
        &self.classes
    }
    fn image_shape(&self) -> Option<Shape> {
        Some(self.shape)
    }
    fn label(&self, index: usize) -> u32 {
        self.labels[index] as u32
    }
    fn image(&self, index: usize) -> Result<Image> {
        let n = self.shape.len();
        Ok(Image { shape: self.shape, pixels: self.images[index * n..(index + 1) * n].to_vec() })
    }
    fn describe(&self) -> String {
        format!("Fashion-MNIST {} ({} images, {})", self.split.name(), self.len(), self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::temp_dir::TempDir;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| v.extend(d.to_be_bytes()));
        v.extend_from_slice(data);
        v
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_the_installed_test_split() {
        let dir = Path::new(DEFAULT_DIR);
        if !dir.join("t10k-labels-idx1-ubyte.gz").is_file() {
            eprintln!("note: skipped, Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
            return;
        }
        let set = FashionMnist::open(dir, Split::Test).unwrap();
        assert_eq!(set.len(), 10_000);
        assert_eq!(set.image_shape(), Some(Shape::new(1, 28, 28)));
        assert_eq!(set.label(0), 9, "the first test image is an ankle boot");
        let mut counts = [0; 10];
        (0..set.len()).for_each(|i| counts[set.label(i) as usize] += 1);
        assert_eq!(counts, [1000; 10]);
        let last = set.image(9_999).unwrap();
        assert_eq!(last.pixels.len(), 784);
        assert!(last.pixels.iter().any(|&p| p > 0));
    }

    #[test]
    fn reads_the_installed_train_split() {
        let dir = Path::new(DEFAULT_DIR);
        if !dir.join("train-labels-idx1-ubyte.gz").is_file() {
            eprintln!("note: skipped, Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
            return;
        }
        let set = FashionMnist::open(dir, Split::Train).unwrap();
        assert_eq!((set.len(), set.image_shape()), (60_000, Some(Shape::new(1, 28, 28))));
        let mut counts = [0; 10];
        (0..set.len()).for_each(|i| counts[set.label(i) as usize] += 1);
        assert_eq!(counts, [6000; 10]);
    }

    #[test]
    fn reads_plain_and_gzipped_files() {
        let tmp = TempDir::new("fmnist-ok");
        let pixels: Vec<u8> = (0..2 * 2 * 3).collect();
        std::fs::write(tmp.0.join("train-images-idx3-ubyte.gz"), gzip(&idx(IMAGES_MAGIC, &[2, 2, 3], &pixels)))
            .unwrap();
        std::fs::write(tmp.0.join("train-labels-idx1-ubyte"), idx(LABELS_MAGIC, &[2], &[4, 9])).unwrap();
        let set = FashionMnist::open(&tmp.0, Split::Train).unwrap();
        assert_eq!((set.len(), set.label(0), set.label(1)), (2, 4, 9));
        assert_eq!(set.image_shape(), Some(Shape::new(1, 2, 3)));
        assert_eq!(set.image(1).unwrap().pixels, (6..12).collect::<Vec<u8>>());
        assert!(set.describe().starts_with("Fashion-MNIST train (2 images, "), "{}", set.describe());
    }

    #[test]
    fn bad_files_are_typed_errors_naming_the_file() {
        let tmp = TempDir::new("fmnist-bad");
        let (images, labels) = (tmp.0.join("t10k-images-idx3-ubyte"), tmp.0.join("t10k-labels-idx1-ubyte"));
        let open_err = || FashionMnist::open(&tmp.0, Split::Test).err().unwrap().to_string();

        let err = FashionMnist::open(&tmp.0.join("absent"), Split::Test).err().unwrap().to_string();
        assert!(err.contains("absent: not found; install the Debian package dataset-fashion-mnist"), "{err}");
        let err = open_err();
        assert!(err.contains("t10k-images-idx3-ubyte.gz: not found") && err.contains("--data DIR"), "{err}");

        std::fs::write(&labels, idx(LABELS_MAGIC, &[1], &[7])).unwrap();
        std::fs::write(&images, idx(LABELS_MAGIC, &[1, 2, 2], &[0; 4])).unwrap();
        let err = open_err();
        assert!(err.contains("t10k-images-idx3-ubyte: IDX magic 0x00000801, expected 0x00000803"), "{err}");
        std::fs::write(&images, idx(IMAGES_MAGIC, &[1, 2, 2], &[0; 3])).unwrap();
        assert!(open_err().contains("truncated"), "{}", open_err());
        std::fs::write(&images, idx(IMAGES_MAGIC, &[1, 2], &[])).unwrap();
        assert!(open_err().contains("truncated IDX header"), "{}", open_err());
        std::fs::write(&images, idx(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[])).unwrap();
        assert!(open_err().contains("images-idx3-ubyte"), "{}", open_err());
        std::fs::write(&images, idx(IMAGES_MAGIC, &[0, 0, 28], &[])).unwrap();
        assert!(open_err().contains("zero dimension"), "{}", open_err());
        std::fs::write(&images, idx(IMAGES_MAGIC, &[2, 1, 1], &[0; 2])).unwrap();
        assert!(open_err().contains("1 labels for 2 images"), "{}", open_err());
        std::fs::write(&images, idx(IMAGES_MAGIC, &[1, 1, 1], &[0])).unwrap();
        std::fs::write(&labels, idx(LABELS_MAGIC, &[1], &[10])).unwrap();
        assert!(open_err().contains("t10k-labels-idx1-ubyte: label 10 at index 0"), "{}", open_err());
        std::fs::write(tmp.0.join("t10k-labels-idx1-ubyte.gz"), b"not gzip").unwrap();
        assert!(open_err().contains("labels-idx1-ubyte.gz: bad gzip data"), "{}", open_err());
    }
}
