//! A Fashion-MNIST split as `FashionMnist::open` reads it: an images and a
//! labels IDX file, each plain or gzipped (`fashion_mnist::gunzip`), checked
//! together by `FashionMnist::from_idx`. Checked: a typed error or a dataset,
//! never a panic; every image and label of a dataset that opened can be read
//! (the readers index without checks after open); memory is bounded by the
//! files (and by gzip's ratio for a gzipped one).
//!
//! Input: see `host_fuzz::idx_pair`.
#![no_main]

use host::data::fashion_mnist::{gunzip, FashionMnist};
use host::data::{Dataset, Split};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};

/// The file's contents as `open` has them: un-gzipped if it is a `.gz`.
fn contents(name: &str, (gz, bytes): host_fuzz::IdxFile) -> Option<(PathBuf, Vec<u8>)> {
    let path = PathBuf::from(if gz { format!("{name}.gz") } else { name.to_string() });
    let bytes = if gz { gunzip(&path, bytes).ok()? } else { bytes.to_vec() };
    Some((path, bytes))
}

fuzz_target!(|data: &[u8]| {
    let Some((images, labels)) = host_fuzz::idx_pair(data) else { return };
    let Some(images) = contents("t10k-images-idx3-ubyte", images) else { return };
    let Some(labels) = contents("t10k-labels-idx1-ubyte", labels) else { return };
    if let Ok(set) = FashionMnist::from_idx(Path::new("fuzz"), Split::Test, images, labels) {
        let shape = set.image_shape().expect("IDX images have one size");
        for i in 0..set.len() {
            assert!((set.label(i) as usize) < set.classes().len());
            assert_eq!(set.image(i).expect("validated at open").pixels.len(), shape.len());
        }
    }
});
