//! From a dataset image to the network's input pixels, for evaluation and
//! (with augmentation) for training.
//!
//! Fixed-size sources (Fashion-MNIST, CIFAR-10) are resized straight to the
//! input with `shared::image::resize_bilinear`, the same integer resize the
//! firmware applies to native-size images, so host and board see identical
//! pixels. Folders of arbitrary photos follow the paper: shorter side to 256
//! (scaled with the input: 256/227 of it), then a centre crop for evaluation
//! or a random crop for training.

use crate::data::Image;
use shared::float::SplitMix64;
use shared::image::resize_bilinear;
use shared::spec::Shape;

/// Training-time augmentation.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Augment {
    /// Mirror left-right with probability 1/2.
    pub flip: bool,
    /// Random crops from the 256/227-scaled image (folders only).
    pub random_crop: bool,
    /// Standard deviation of the paper's PCA colour noise (0.1 in the
    /// paper; 0 = off; RGB only).
    pub lighting: f32,
}

impl Augment {
    pub const NONE: Augment = Augment { flip: false, random_crop: false, lighting: 0.0 };
}

/// The shorter side a variable-size image is scaled to before cropping.
fn short_side(input: Shape) -> u32 {
    (input.h.max(input.w) * 256).div_ceil(227)
}

fn resize(img: &Image, to: Shape) -> Vec<u8> {
    if img.shape == to {
        return img.pixels.clone();
    }
    let mut out = vec![0; to.len()];
    resize_bilinear(&img.pixels, img.shape, &mut out, to);
    out
}

fn crop(pixels: &[u8], from: Shape, to: Shape, top: u32, left: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(to.len());
    for c in 0..from.c {
        for y in top..top + to.h {
            let row = ((c * from.h + y) * from.w + left) as usize;
            out.extend_from_slice(&pixels[row..row + to.w as usize]);
        }
    }
    out
}

/// Scales the shorter side to `short_side(input)` keeping the aspect ratio.
fn scaled(img: &Image, input: Shape) -> (Vec<u8>, Shape) {
    let s = short_side(input);
    let (h, w) = (img.shape.h, img.shape.w);
    let to = if h <= w {
        Shape::new(img.shape.c, s, ((w as u64 * s as u64) / h as u64).max(s as u64) as u32)
    } else {
        Shape::new(img.shape.c, ((h as u64 * s as u64) / w as u64).max(s as u64) as u32, s)
    };
    (resize(img, to), to)
}

/// The network input for evaluation and for the board.
pub fn eval_pixels(img: &Image, input: Shape, fixed_size: bool) -> Vec<u8> {
    if fixed_size {
        return resize(img, input);
    }
    let (pixels, shape) = scaled(img, input);
    crop(&pixels, shape, input, (shape.h - input.h) / 2, (shape.w - input.w) / 2)
}

/// The paper's ten test patches (section 4.1): the four corner crops and
/// the centre crop of the 256/227-scaled image, and their mirror images, in
/// that order. The centre crop is [`eval_pixels`]' input.
pub fn ten_crops(img: &Image, input: Shape) -> Vec<Vec<u8>> {
    let (pixels, shape) = scaled(img, input);
    let (bottom, right) = (shape.h - input.h, shape.w - input.w);
    let corners = [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom / 2, right / 2)];
    let mut crops: Vec<Vec<u8>> = corners.iter().map(|&(top, left)| crop(&pixels, shape, input, top, left)).collect();
    for k in 0..corners.len() {
        let mut mirrored = crops[k].clone();
        mirror(&mut mirrored, input);
        crops.push(mirrored);
    }
    crops
}

fn mirror(pixels: &mut [u8], shape: Shape) {
    for row in pixels.chunks_exact_mut(shape.w as usize) {
        row.reverse();
    }
}

/// The network input for one training step, augmented with `rng`.
pub fn train_pixels(img: &Image, input: Shape, fixed_size: bool, aug: &Augment, rng: &mut SplitMix64) -> Vec<u8> {
    let mut pixels = if fixed_size || !aug.random_crop {
        eval_pixels(img, input, fixed_size)
    } else {
        let (pixels, shape) = scaled(img, input);
        let top = (rng.next_u64() % (shape.h - input.h + 1) as u64) as u32;
        let left = (rng.next_u64() % (shape.w - input.w + 1) as u64) as u32;
        crop(&pixels, shape, input, top, left)
    };
    if aug.flip && rng.next_u64() & 1 == 1 {
        mirror(&mut pixels, input);
    }
    if aug.lighting > 0.0 && input.c == 3 {
        lighting(&mut pixels, input, aug.lighting, rng);
    }
    pixels
}

/// Network-size pixel images to the network's input values,
/// `(pixel - mean[c]) / std[c]`, concatenated (N x C x H x W).
pub fn normalize_batch<'a>(spec: &shared::ModelSpec, images: impl IntoIterator<Item = &'a [u8]>) -> Vec<f32> {
    let plane = (spec.input.h * spec.input.w) as usize;
    let norm = spec.normalize;
    let mut out = Vec::new();
    for img in images {
        out.extend(img.iter().enumerate().map(|(i, p)| (*p as f32 - norm.mean[i / plane]) / norm.std[i / plane]));
    }
    out
}

/// Krizhevsky et al. section 4.1: add multiples of the principal components
/// of ImageNet RGB values (eigenvalues and vectors as published with
/// fb.resnet.torch, for values in 0..1; scaled to pixels here).
fn lighting(pixels: &mut [u8], shape: Shape, std: f32, rng: &mut SplitMix64) {
    const EIGVAL: [f32; 3] = [0.2175, 0.0188, 0.0045];
    const EIGVEC: [[f32; 3]; 3] = [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]];
    let alpha: [f32; 3] = std::array::from_fn(|_| rng.next_normal() as f32 * std);
    let plane = (shape.h * shape.w) as usize;
    for (c, row) in EIGVEC.iter().enumerate() {
        let shift = 255.0 * (0..3).map(|i| row[i] * alpha[i] * EIGVAL[i]).sum::<f32>();
        for p in &mut pixels[c * plane..(c + 1) * plane] {
            *p = (*p as f32 + shift).round().clamp(0.0, 255.0) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(shape: Shape) -> Image {
        Image { shape, pixels: (0..shape.len()).map(|i| (i % 251) as u8).collect() }
    }

    #[test]
    fn fixed_size_eval_is_the_boards_resize() {
        let img = ramp(Shape::new(1, 28, 28));
        let input = Shape::new(1, 64, 64);
        let mut want = vec![0; input.len()];
        resize_bilinear(&img.pixels, img.shape, &mut want, input);
        assert_eq!(eval_pixels(&img, input, true), want);
    }

    #[test]
    fn folder_images_are_scaled_and_centre_cropped() {
        let input = Shape::new(3, 227, 227);
        for shape in [Shape::new(3, 300, 500), Shape::new(3, 640, 256), Shape::new(3, 100, 100)] {
            let out = eval_pixels(&ramp(shape), input, false);
            assert_eq!(out.len(), input.len());
            let mut rng = SplitMix64::new(3);
            let aug = Augment { flip: true, random_crop: true, lighting: 0.1 };
            assert_eq!(train_pixels(&ramp(shape), input, false, &aug, &mut rng).len(), input.len());
        }
    }

    #[test]
    fn ten_crops_are_corners_centre_and_their_mirrors() {
        let input = Shape::new(1, 4, 4);
        // 9 x 12 scales its shorter side to ceil(4 * 256 / 227) = 5: 5 x 6.
        let img = ramp(Shape::new(1, 9, 12));
        let crops = ten_crops(&img, input);
        assert_eq!(crops.len(), 10);
        assert_eq!(crops[4], eval_pixels(&img, input, false), "the centre crop is the evaluation input");
        let (pixels, shape) = scaled(&img, input);
        assert_eq!(shape, Shape::new(1, 5, 6));
        assert_eq!(crops[0][0], pixels[0], "top-left corner");
        assert_eq!(crops[3][15], pixels[5 * 6 - 1], "bottom-right corner");
        for k in 0..5 {
            let mut m = crops[k].clone();
            mirror(&mut m, input);
            assert_eq!(crops[k + 5], m);
        }
    }

    #[test]
    fn flip_mirrors_rows() {
        let input = Shape::new(1, 2, 3);
        let img = Image { shape: input, pixels: vec![1, 2, 3, 4, 5, 6] };
        let aug = Augment { flip: true, ..Augment::NONE };
        let outs: Vec<Vec<u8>> =
            (0..8).map(|s| train_pixels(&img, input, true, &aug, &mut SplitMix64::new(s))).collect();
        assert!(outs.contains(&vec![3, 2, 1, 6, 5, 4]) && outs.contains(&vec![1, 2, 3, 4, 5, 6]));
    }
}
