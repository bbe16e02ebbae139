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

/// What the board answered for one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub index: usize,
    pub label: u32,
    /// (class, int8 logit), best first.
    pub top5: Vec<(u16, i8)>,
    pub cycles: u64,
}
