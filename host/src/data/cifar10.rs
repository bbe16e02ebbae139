//! CIFAR-10, binary version (`cifar-10-binary.tar.gz`): `data_batch_{1..5}.bin`
//! for training and `test_batch.bin`, records of one label byte and 3072
//! pixel bytes (the R, G and B planes of a 32x32 image, row-major), which is
//! CHW already, so an image is a plain copy. The 150 MB training split is
//! held in memory and validated at open.

use super::dataset::{read, DataError, Dataset, Image, Result, Split};
use shared::spec::Shape;
use std::path::{Path, PathBuf};

const SHAPE: Shape = Shape::new(3, 32, 32);
const RECORD: usize = 1 + SHAPE.len();
/// The standard class names, used when `batches.meta.txt` is absent.
pub const CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
/// The archive unpacks into this folder; `--data` may name it or its parent.
const SUBDIR: &str = "cifar-10-batches-bin";
const FIX: &str = "pass --data DIR holding the CIFAR-10 binary version (cifar-10-binary.tar.gz, unpacked)";

/// One split: whole records (label + pixels) back to back.
pub struct Cifar10 {
    dir: PathBuf,
    split: Split,
    classes: Vec<String>,
    records: Vec<u8>,
}

/// Reads one batch file and checks its length and labels.
fn read_batch(path: &Path) -> Result<Vec<u8>> {
    if !path.is_file() {
        return Err(DataError::Missing { dataset: "cifar10", path: path.to_path_buf(), fix: FIX });
    }
    check_batch(path, read(path)?)
}

/// Checks the contents of the batch file `path`: whole records, labels 0..=9.
pub fn check_batch(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    let bad = |reason: String| DataError::Format { path: path.to_path_buf(), reason };
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(bad(format!(
            "{} bytes is not a whole number of {RECORD}-byte records; the file is truncated or not the binary version",
            bytes.len()
        )));
    }
    if let Some(r) = bytes.chunks_exact(RECORD).position(|r| r[0] as usize >= CLASSES.len()) {
        return Err(bad(format!("record {r} has label {}, expected 0..=9", bytes[r * RECORD])));
    }
    Ok(bytes)
}

/// Ten non-empty lines of `batches.meta.txt`, or the standard names.
fn class_names(dir: &Path) -> Vec<String> {
    let from_file = std::fs::read_to_string(dir.join("batches.meta.txt"))
        .ok()
        .map(|text| text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect::<Vec<_>>());
    match from_file {
        Some(names) if names.len() == CLASSES.len() => names,
        _ => CLASSES.map(String::from).to_vec(),
    }
}

impl Cifar10 {
    /// `dir` holds the batch files, or the archive's `cifar-10-batches-bin/` folder.
    pub fn open(dir: &Path, split: Split) -> Result<Cifar10> {
        if !dir.is_dir() {
            return Err(DataError::Missing { dataset: "cifar10", path: dir.to_path_buf(), fix: FIX });
        }
        let dir = if dir.join(SUBDIR).is_dir() { dir.join(SUBDIR) } else { dir.to_path_buf() };
        let files: Vec<String> = match split {
            Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
            Split::Test => vec!["test_batch.bin".into()],
        };
        let mut records = Vec::new();
        for f in files {
            let bytes = read_batch(&dir.join(f))?;
            if records.is_empty() {
                records = bytes;
            } else {
                records.extend_from_slice(&bytes);
            }
        }
        Ok(Cifar10 { classes: class_names(&dir), dir, split, records })
    }
}

impl Dataset for Cifar10 {
    fn len(&self) -> usize {
        self.records.len() / RECORD
    }
    fn classes(&self) -> &[String] {
        &self.classes
    }
    fn image_shape(&self) -> Option<Shape> {
        Some(SHAPE)
    }
    fn label(&self, index: usize) -> u32 {
        self.records[index * RECORD] as u32
    }
    fn image(&self, index: usize) -> Result<Image> {
        Ok(Image { shape: SHAPE, pixels: self.records[index * RECORD + 1..(index + 1) * RECORD].to_vec() })
    }
    fn describe(&self) -> String {
        format!("CIFAR-10 {} ({} images, {})", self.split.name(), self.len(), self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::temp_dir::TempDir;

    /// `n` records: label `(first + i) % 10`, pixel p of image i = p + i (mod 256).
    fn batch(n: u8, first: u8) -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..n {
            v.push((first + i) % 10);
            v.extend((0..SHAPE.len()).map(|p| (p as u8).wrapping_add(i)));
        }
        v
    }

    #[test]
    fn reads_generated_batches_from_the_archive_folder() {
        let tmp = TempDir::new("cifar-ok");
        let dir = tmp.0.join(SUBDIR);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("test_batch.bin"), batch(3, 4)).unwrap();
        for i in 1..=5 {
            std::fs::write(dir.join(format!("data_batch_{i}.bin")), batch(2, 2 * i)).unwrap();
        }
        let test = Cifar10::open(&tmp.0, Split::Test).unwrap();
        assert_eq!((test.len(), test.label(2), test.classes()[3].as_str()), (3, 6, "cat"));
        assert_eq!(test.image_shape(), Some(SHAPE));
        let img = test.image(1).unwrap();
        assert_eq!((img.shape, img.pixels.len()), (SHAPE, 3072));
        assert_eq!((img.pixels[0], img.pixels[1024], img.pixels[2047]), (1, 1, 0));
        assert!(test.describe().starts_with("CIFAR-10 test (3 images, "), "{}", test.describe());

        let train = Cifar10::open(&dir, Split::Train).unwrap();
        assert_eq!(train.len(), 10);
        assert_eq!((0..10).map(|i| train.label(i)).collect::<Vec<_>>(), [2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);

        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        std::fs::write(dir.join("batches.meta.txt"), names.join("\n") + "\n\n").unwrap();
        assert_eq!(Cifar10::open(&dir, Split::Test).unwrap().classes(), names);
    }

    #[test]
    fn bad_batches_are_typed_errors_naming_the_file() {
        let tmp = TempDir::new("cifar-bad");
        let err = Cifar10::open(&tmp.0.join("absent"), Split::Test).err().unwrap().to_string();
        assert!(err.contains("absent: not found; pass --data DIR"), "{err}");
        let err = Cifar10::open(&tmp.0, Split::Train).err().unwrap().to_string();
        assert!(err.contains("data_batch_1.bin: not found"), "{err}");

        let mut bytes = batch(2, 0);
        bytes.pop();
        std::fs::write(tmp.0.join("test_batch.bin"), &bytes).unwrap();
        let err = Cifar10::open(&tmp.0, Split::Test).err().unwrap().to_string();
        assert!(err.contains("test_batch.bin: 6145 bytes is not a whole number of 3073-byte records"), "{err}");
        std::fs::write(tmp.0.join("test_batch.bin"), []).unwrap();
        assert!(Cifar10::open(&tmp.0, Split::Test).is_err());
        let mut bytes = batch(2, 0);
        bytes[RECORD] = 10;
        std::fs::write(tmp.0.join("test_batch.bin"), &bytes).unwrap();
        let err = Cifar10::open(&tmp.0, Split::Test).err().unwrap().to_string();
        assert!(err.contains("test_batch.bin: record 1 has label 10"), "{err}");
    }
}
