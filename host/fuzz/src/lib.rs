//! What the fuzz targets and the seed generator (`examples/seeds.rs`) share:
//! the input format of the IDX target, a pair of files in one byte string.

/// One file of the IDX target's input: whether it is gzipped, its bytes.
pub type IdxFile<'a> = (bool, &'a [u8]);

/// The IDX target's input as (images, labels) files: a flags byte (bit 0:
/// images gzipped, bit 1: labels), the images file's length as u16 LE, the
/// images file, then the labels file.
pub fn idx_pair(data: &[u8]) -> Option<(IdxFile<'_>, IdxFile<'_>)> {
    let (&flags, rest) = data.split_first()?;
    let (len, rest) = rest.split_first_chunk::<2>()?;
    let (images, labels) = rest.split_at(usize::from(u16::from_le_bytes(*len)).min(rest.len()));
    Some(((flags & 1 != 0, images), (flags & 2 != 0, labels)))
}

/// The input [`idx_pair`] splits into `images` and `labels`.
pub fn idx_input((images_gz, images): IdxFile, (labels_gz, labels): IdxFile) -> Vec<u8> {
    let mut data = vec![images_gz as u8 | (labels_gz as u8) << 1];
    data.extend_from_slice(&(images.len() as u16).to_le_bytes());
    data.extend_from_slice(images);
    data.extend_from_slice(labels);
    data
}
