//! A folder of photos in torchvision's ImageFolder layout:
//! `DIR/train/<class>/*.jpg` and `DIR/val/<class>/*` (or `DIR/test/`). Class
//! folders are sorted by name and label = position, as torchvision does, so
//! labels agree with a PyTorch model trained on the same folder (ImageNet
//! synset names such as `n01440764` sort into the usual 1000-class order).
//!
//! Opening only lists files: an ImageNet-sized folder does not fit in memory,
//! so each image is decoded when asked for, and a damaged file is an error
//! for that image alone (the loader skips it) rather than for the whole set.

use super::dataset::{DataError, Dataset, Image, Result, Split};
use shared::spec::Shape;
use std::path::{Path, PathBuf};

/// File extensions taken as images (case-insensitive), all decodable by the
/// `image` crate features this crate enables.
pub const EXTENSIONS: [&str; 7] = ["jpg", "jpeg", "jfif", "png", "bmp", "gif", "webp"];
const FIX: &str = "expected DIR/train/<class>/*.jpg and DIR/val/<class>/*.jpg (torchvision ImageFolder layout)";

/// One split: every image file with its label.
pub struct ImageFolder {
    root: PathBuf,
    split: Split,
    classes: Vec<String>,
    files: Vec<(PathBuf, u32)>,
    channels: u32,
}

/// A directory's visible entries (no dot-files such as `.ipynb_checkpoints`),
/// sorted by name, with whether each is a directory (symlinks followed).
fn entries(dir: &Path) -> Result<Vec<(PathBuf, bool)>> {
    let io = |source| DataError::Io { path: dir.to_path_buf(), source };
    let mut v = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // file_type() needs no extra system call on Linux; only symlinks cost a stat.
        let is_dir = match entry.file_type() {
            Ok(t) if t.is_symlink() => path.is_dir(),
            Ok(t) => t.is_dir(),
            Err(_) => path.is_dir(),
        };
        v.push((path, is_dir));
    }
    v.sort();
    Ok(v)
}

fn is_image(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    ext.is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
}

impl ImageFolder {
    /// Lists `dir/train` (Train) or `dir/val`, else `dir/test` (Test).
    /// `channels` (1 or 3) is what [`Dataset::image`] will produce.
    pub fn open(dir: &Path, split: Split, channels: u32) -> Result<ImageFolder> {
        if channels != 1 && channels != 3 {
            return Err(DataError::UnsupportedChannels(channels));
        }
        if !dir.is_dir() {
            return Err(DataError::Missing { dataset: "folder", path: dir.to_path_buf(), fix: FIX });
        }
        let candidates: &[&str] = match split {
            Split::Train => &["train"],
            Split::Test => &["val", "test"],
        };
        let root = candidates.iter().map(|c| dir.join(c)).find(|p| p.is_dir()).ok_or_else(|| DataError::Missing {
            dataset: "folder",
            path: dir.join(candidates[0]),
            fix: FIX,
        })?;
        let class_dirs: Vec<PathBuf> = entries(&root)?.into_iter().filter(|e| e.1).map(|e| e.0).collect();
        if class_dirs.is_empty() {
            return Err(DataError::Format { path: root, reason: format!("no class folders inside; {FIX}") });
        }
        let mut classes = Vec::with_capacity(class_dirs.len());
        let mut files = Vec::new();
        for (label, class_dir) in class_dirs.into_iter().enumerate() {
            let all = entries(&class_dir)?;
            let before = files.len();
            files.extend(
                all.iter().filter(|(p, is_dir)| !is_dir && is_image(p)).map(|(p, _)| (p.clone(), label as u32)),
            );
            if files.len() == before {
                let reason = if all.is_empty() {
                    "class folder is empty; add its images or remove it".to_string()
                } else {
                    format!("class folder has no image files ({}); add some or remove it", EXTENSIONS.join(", "))
                };
                return Err(DataError::Format { path: class_dir, reason });
            }
            classes.push(class_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        }
        Ok(ImageFolder { root, split, classes, files, channels })
    }
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.files.len()
    }
    fn classes(&self) -> &[String] {
        &self.classes
    }
    fn image_shape(&self) -> Option<Shape> {
        None
    }
    fn label(&self, index: usize) -> u32 {
        self.files[index].1
    }
    fn image(&self, index: usize) -> Result<Image> {
        decode(&self.files[index].0, self.channels)
    }
    fn describe(&self) -> String {
        format!(
            "image folder {} ({} images, {} classes, {})",
            self.split.name(),
            self.len(),
            self.classes.len(),
            self.root.display()
        )
    }
}

/// ITU-R BT.601 luma, rounded: the grey that MNIST-style data and most
/// vision code (PIL's `convert("L")`, OpenCV) use. The `image` crate's own
/// `to_luma8` uses BT.709 weights, hence this.
fn luma601(r: u8, g: u8, b: u8) -> u8 {
    ((299 * r as u32 + 587 * g as u32 + 114 * b as u32 + 500) / 1000) as u8
}

/// Decodes any supported file (format guessed from its contents, not its
/// name) to CHW pixels with `channels` 1 or 3. Alpha is dropped.
pub fn decode(path: &Path, channels: u32) -> Result<Image> {
    to_chw(&open_image(path)?, channels)
}

/// Decodes a file as the `image` crate sees it, keeping its colour type, so
/// a caller can check it before converting. Errors name the file.
pub fn open_image(path: &Path) -> Result<image::DynamicImage> {
    let bad = |reason: String| DataError::Decode { path: path.to_path_buf(), reason };
    let img = image::ImageReader::open(path)
        .map_err(|e| bad(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| bad(e.to_string()))?
        .decode()
        .map_err(|e| bad(e.to_string()))?;
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return Err(bad(format!("empty image ({w}x{h})")));
    }
    Ok(img)
}

/// A decoded image as CHW pixels with `channels` 1 (BT.601 grey) or 3 (RGB).
pub fn to_chw(img: &image::DynamicImage, channels: u32) -> Result<Image> {
    let (w, h) = (img.width(), img.height());
    let plane = w as usize * h as usize;
    let pixels = match channels {
        1 if img.color().has_color() => img.to_rgb8().pixels().map(|p| luma601(p[0], p[1], p[2])).collect(),
        1 => img.to_luma8().into_raw(),
        3 => {
            // HWC -> CHW; grey sources are copied to all three planes by to_rgb8.
            let rgb = img.to_rgb8().into_raw();
            let mut chw = vec![0u8; 3 * plane];
            for (i, px) in rgb.chunks_exact(3).enumerate() {
                chw[i] = px[0];
                chw[plane + i] = px[1];
                chw[2 * plane + i] = px[2];
            }
            chw
        }
        other => return Err(DataError::UnsupportedChannels(other)),
    };
    Ok(Image { shape: Shape::new(channels, h, w), pixels })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::temp_dir::TempDir;

    /// Pixel (x, y) of image `i` is (40x, 60y, 200 - i), mod 256.
    fn write_png(path: &Path, w: u32, h: u32, i: u8) {
        image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x as u8).wrapping_mul(40), (y as u8).wrapping_mul(60), 200 - i])
        })
        .save(path)
        .unwrap();
    }

    #[test]
    fn reads_a_generated_folder_in_both_channel_counts() {
        let tmp = TempDir::new("folder-ok");
        for (class, n) in [("n02", 2u8), ("n01", 3)] {
            let dir = tmp.0.join("val").join(class);
            std::fs::create_dir_all(&dir).unwrap();
            (0..n).for_each(|i| write_png(&dir.join(format!("{i}.png")), 5 + i as u32, 4, i));
        }
        let grey = image::GrayImage::from_fn(2, 2, |x, y| image::Luma([(x + 2 * y) as u8 * 50]));
        grey.save(tmp.0.join("val/n02/grey.PNG")).unwrap();
        std::fs::write(tmp.0.join("val/n01/broken.jpg"), b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
        std::fs::write(tmp.0.join("val/n01/notes.txt"), b"ignored").unwrap();
        std::fs::create_dir_all(tmp.0.join("val/.ipynb_checkpoints")).unwrap();

        let set = ImageFolder::open(&tmp.0, Split::Test, 3).unwrap();
        assert_eq!(set.classes(), ["n01", "n02"]);
        assert_eq!(set.len(), 7);
        assert_eq!((0..7).map(|i| set.label(i)).collect::<Vec<_>>(), [0, 0, 0, 0, 1, 1, 1]);
        assert_eq!(set.image_shape(), None);
        assert!(set.describe().starts_with("image folder test (7 images, 2 classes, "), "{}", set.describe());
        // Sorted: 0.png 1.png 2.png broken.jpg | 0.png 1.png grey.PNG.
        let img = set.image(1).unwrap();
        assert_eq!(img.shape, Shape::new(3, 4, 6));
        let plane = 24;
        assert_eq!((img.pixels[1], img.pixels[6], img.pixels[plane + 6], img.pixels[2 * plane]), (40, 0, 60, 199));
        let err = set.image(3).unwrap_err();
        assert!(matches!(err, DataError::Decode { .. }), "{err}");
        assert!(err.to_string().contains("broken.jpg: cannot decode image"), "{err}");
        let rgb_from_grey = set.image(6).unwrap();
        assert_eq!(rgb_from_grey.shape, Shape::new(3, 2, 2));
        assert_eq!(rgb_from_grey.pixels, [0, 50, 100, 150].repeat(3));

        let set = ImageFolder::open(&tmp.0, Split::Test, 1).unwrap();
        let img = set.image(0).unwrap();
        assert_eq!(img.shape, Shape::new(1, 4, 5));
        // (40, 0, 200): BT.601 gives 35 (BT.709 would give 23).
        assert_eq!(img.pixels[1], luma601(40, 0, 200));
        assert_eq!(img.pixels[1], 35);
        assert_eq!(set.image(6).unwrap().pixels, [0, 50, 100, 150]);
    }

    #[test]
    fn corrupt_and_truncated_files_are_decode_errors() {
        let tmp = TempDir::new("folder-corrupt");
        let good = tmp.0.join("good.png");
        write_png(&good, 16, 16, 0);
        let bytes = std::fs::read(&good).unwrap();
        for (name, contents) in [
            ("truncated.png", &bytes[..bytes.len() / 2]),
            ("header-only.png", &bytes[..8]),
            ("empty.jpg", &[][..]),
            ("garbage.webp", &b"RIFF\x10\x00\x00\x00WEBPVP8 garbage"[..]),
        ] {
            let path = tmp.0.join(name);
            std::fs::write(&path, contents).unwrap();
            let err = decode(&path, 3).unwrap_err();
            assert!(matches!(err, DataError::Decode { .. }) && err.to_string().contains(name), "{err}");
        }
        assert!(decode(&tmp.0.join("gone.png"), 1).is_err());
        assert_eq!(decode(&good, 1).unwrap().shape, Shape::new(1, 16, 16));
    }

    #[test]
    fn layout_errors_name_the_problem() {
        let tmp = TempDir::new("folder-bad");
        let open_err = |split| ImageFolder::open(&tmp.0, split, 3).err().unwrap().to_string();
        let err = ImageFolder::open(&tmp.0.join("absent"), Split::Train, 3).err().unwrap().to_string();
        assert!(err.contains("absent: not found") && err.contains("ImageFolder layout"), "{err}");
        assert!(open_err(Split::Train).contains("train: not found"), "{}", open_err(Split::Train));
        assert!(open_err(Split::Test).contains("val: not found"), "{}", open_err(Split::Test));

        std::fs::create_dir_all(tmp.0.join("test")).unwrap();
        std::fs::write(tmp.0.join("test/stray.png"), b"").unwrap();
        assert!(open_err(Split::Test).contains("no class folders"), "{}", open_err(Split::Test));
        std::fs::create_dir_all(tmp.0.join("test/cat")).unwrap();
        write_png(&tmp.0.join("test/cat/1.png"), 2, 2, 0);
        std::fs::create_dir_all(tmp.0.join("test/dog")).unwrap();
        let err = open_err(Split::Test);
        assert!(err.contains("dog: class folder is empty"), "{err}");
        std::fs::write(tmp.0.join("test/dog/readme.txt"), b"").unwrap();
        let err = open_err(Split::Test);
        assert!(err.contains("dog: class folder has no image files"), "{err}");
        write_png(&tmp.0.join("test/dog/1.png"), 2, 2, 0);
        assert_eq!(ImageFolder::open(&tmp.0, Split::Test, 1).unwrap().len(), 2);
        assert!(matches!(ImageFolder::open(&tmp.0, Split::Test, 2), Err(DataError::UnsupportedChannels(2))));
    }
}
