//! What a board run sends and gets back, image by image: the test image as
//! it travels, and the board's answer to it. The session, its journal and
//! `host compare` all speak in these.

use serde::{Deserialize, Serialize};
use shared::spec::Shape;

/// One image as sent to the board: native size, one byte per value, CHW.
#[derive(Clone, Debug)]
pub struct TestImage {
    pub pixels: Vec<u8>,
    pub shape: Shape,
    pub label: u32,
}

/// Images larger than the network's input, cut down to the input's size:
/// the board would resize them with the same integer code, so its answer is
/// the same bits, and the link (a paper-size photo takes seconds at 921,600
/// baud) or the card carries less.
pub fn shrink_to_input(images: &mut [TestImage], input: Shape) {
    for image in images.iter_mut().filter(|i| i.shape.c == input.c && i.shape.len() > input.len()) {
        let mut resized = vec![0u8; input.len()];
        shared::image::resize_bilinear(&image.pixels, image.shape, &mut resized, input);
        image.pixels = resized;
        image.shape = input;
    }
}

/// The test image set file (`shared::card`) holding `images` in order.
pub fn card_set(images: &[TestImage]) -> Result<Vec<u8>, String> {
    shared::card::write(images.iter().map(|i| (i.shape, i.pixels.as_slice())))
        .map_err(|_| "the test images do not fit a card image set (a side over 65,535 or over 4 GiB in all)".into())
}

/// What the board answered for one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub index: usize,
    pub label: u32,
    /// (class, int8 logit), best first.
    pub top5: Vec<(u16, i8)>,
    pub cycles: u64,
    /// With `host run --layers`: the same clock by stage, the input's
    /// resize and quantization first, then each layer of the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<u64>>,
}
