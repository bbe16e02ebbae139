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
use shared::spec::{ModelSpec, Shape};

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
    /// Largest random shift of the network input in pixels, each way, the
    /// uncovered border black: the random crop of a padded image that
    /// fixed-size sets (Fashion-MNIST, CIFAR-10) train with (0 = off).
    #[serde(default)]
    pub translate: u32,
    /// Probability of random erasing (Zhong et al. 2017): one rectangle of
    /// 2-40% of the image, aspect 0.3-3.3, filled with random pixels (0 = off).
    #[serde(default)]
    pub erase: f32,
}

impl Augment {
    pub const NONE: Augment = Augment { flip: false, random_crop: false, lighting: 0.0, translate: 0, erase: 0.0 };
}

/// What preparing an image needs of a model: its input size, and the
/// shorter side a photo is scaled to before the crop (256 for 227 in the
/// paper, 256 for 224 in torchvision; it travels in the spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputGeometry {
    pub input: Shape,
    pub shorter_side: u32,
}

impl InputGeometry {
    pub fn of(spec: &ModelSpec) -> Self {
        InputGeometry {
            input: spec.input,
            shorter_side: spec.resize_shorter_side().max(spec.input.h.max(spec.input.w)),
        }
    }
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

/// Scales the shorter side to `geom.shorter_side` keeping the aspect ratio.
fn scaled(img: &Image, geom: InputGeometry) -> (Vec<u8>, Shape) {
    let s = geom.shorter_side;
    let (h, w) = (img.shape.h, img.shape.w);
    let to = if h <= w {
        Shape::new(img.shape.c, s, ((w as u64 * s as u64) / h as u64).max(s as u64) as u32)
    } else {
        Shape::new(img.shape.c, ((h as u64 * s as u64) / w as u64).max(s as u64) as u32, s)
    };
    (resize(img, to), to)
}

/// The network input for evaluation and for the board.
pub fn eval_pixels(img: &Image, geom: InputGeometry, fixed_size: bool) -> Vec<u8> {
    let input = geom.input;
    if fixed_size {
        return resize(img, input);
    }
    let (pixels, shape) = scaled(img, geom);
    crop(&pixels, shape, input, (shape.h - input.h) / 2, (shape.w - input.w) / 2)
}

/// The paper's ten test patches (section 4.1): the four corner crops and
/// the centre crop of the 256/227-scaled image, and their mirror images, in
/// that order. The centre crop is [`eval_pixels`]' input.
pub fn ten_crops(img: &Image, geom: InputGeometry) -> Vec<Vec<u8>> {
    let input = geom.input;
    let (pixels, shape) = scaled(img, geom);
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
pub fn train_pixels(
    img: &Image,
    geom: InputGeometry,
    fixed_size: bool,
    aug: &Augment,
    rng: &mut SplitMix64,
) -> Vec<u8> {
    let input = geom.input;
    let mut pixels = if fixed_size || !aug.random_crop {
        eval_pixels(img, geom, fixed_size)
    } else {
        let (pixels, shape) = scaled(img, geom);
        let top = (rng.next_u64() % (shape.h - input.h + 1) as u64) as u32;
        let left = (rng.next_u64() % (shape.w - input.w + 1) as u64) as u32;
        crop(&pixels, shape, input, top, left)
    };
    if aug.translate > 0 {
        pixels = translate(&pixels, input, aug.translate, rng);
    }
    if aug.flip && rng.next_u64() & 1 == 1 {
        mirror(&mut pixels, input);
    }
    if aug.lighting > 0.0 && input.c == 3 {
        lighting(&mut pixels, input, aug.lighting, rng);
    }
    if aug.erase > 0.0 && rng.next_f64() < aug.erase as f64 {
        erase(&mut pixels, input, rng);
    }
    pixels
}

/// Shifts the image by up to `max` pixels each way (drawn uniformly),
/// filling what is uncovered with 0.
fn translate(pixels: &[u8], shape: Shape, max: u32, rng: &mut SplitMix64) -> Vec<u8> {
    let span = 2 * max as u64 + 1;
    let dy = (rng.next_u64() % span) as i64 - max as i64;
    let dx = (rng.next_u64() % span) as i64 - max as i64;
    let (h, w) = (shape.h as i64, shape.w as i64);
    let mut out = vec![0u8; pixels.len()];
    // Destination columns whose source column x - dx lies inside the image.
    let (x0, x1) = (dx.max(0), (w + dx).min(w));
    if x0 >= x1 {
        return out;
    }
    for c in 0..shape.c as i64 {
        for y in (dy.max(0))..(h + dy).min(h) {
            let (dst, src) = (((c * h + y) * w) as usize, ((c * h + y - dy) * w) as usize);
            out[dst + x0 as usize..dst + x1 as usize]
                .copy_from_slice(&pixels[src + (x0 - dx) as usize..src + (x1 - dx) as usize]);
        }
    }
    out
}

/// Random erasing: one rectangle of 2-40% of the area, aspect ratio
/// 0.3-3.3 (log-uniform), filled with uniform random pixels; ten tries to
/// find one that fits, as in the paper.
fn erase(pixels: &mut [u8], shape: Shape, rng: &mut SplitMix64) {
    let (h, w) = (shape.h as usize, shape.w as usize);
    for _ in 0..10 {
        let area = (h * w) as f64 * (0.02 + 0.38 * rng.next_f64());
        let ratio = (0.3f64.ln() + (3.3f64.ln() - 0.3f64.ln()) * rng.next_f64()).exp();
        let (eh, ew) = ((area * ratio).sqrt().round() as usize, (area / ratio).sqrt().round() as usize);
        if eh == 0 || ew == 0 || eh >= h || ew >= w {
            continue;
        }
        let top = (rng.next_u64() % (h - eh + 1) as u64) as usize;
        let left = (rng.next_u64() % (w - ew + 1) as u64) as usize;
        for c in 0..shape.c as usize {
            for y in top..top + eh {
                for v in &mut pixels[(c * h + y) * w + left..][..ew] {
                    *v = rng.next_u64() as u8;
                }
            }
        }
        return;
    }
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

    /// The paper's proportion: the shorter side scaled to 256/227 of the input.
    fn paper(input: Shape) -> InputGeometry {
        InputGeometry { input, shorter_side: (input.h.max(input.w) * 256).div_ceil(227) }
    }

    #[test]
    fn the_resize_before_the_crop_comes_from_the_spec() {
        let paper = shared::AlexNetConfig::paper().build().unwrap();
        assert_eq!(InputGeometry::of(&paper).shorter_side, 256);
        let torchvision = shared::AlexNetConfig::torchvision().build().unwrap();
        assert_eq!(
            InputGeometry::of(&torchvision),
            InputGeometry { input: Shape::new(3, 224, 224), shorter_side: 256 }
        );
        // torchvision's Resize(256) of a 300x500 photo: 256x426, then CenterCrop(224).
        let (_, shape) = scaled(&ramp(Shape::new(3, 300, 500)), InputGeometry::of(&torchvision));
        assert_eq!(shape, Shape::new(3, 256, 426));
    }

    fn ramp(shape: Shape) -> Image {
        Image { shape, pixels: (0..shape.len()).map(|i| (i % 251) as u8).collect() }
    }

    #[test]
    fn fixed_size_eval_is_the_boards_resize() {
        let img = ramp(Shape::new(1, 28, 28));
        let input = Shape::new(1, 64, 64);
        let mut want = vec![0; input.len()];
        resize_bilinear(&img.pixels, img.shape, &mut want, input);
        assert_eq!(eval_pixels(&img, paper(input), true), want);
    }

    #[test]
    fn folder_images_are_scaled_and_centre_cropped() {
        let input = Shape::new(3, 227, 227);
        for shape in [Shape::new(3, 300, 500), Shape::new(3, 640, 256), Shape::new(3, 100, 100)] {
            let out = eval_pixels(&ramp(shape), paper(input), false);
            assert_eq!(out.len(), input.len());
            let mut rng = SplitMix64::new(3);
            let aug = Augment { flip: true, random_crop: true, lighting: 0.1, translate: 3, erase: 0.5 };
            assert_eq!(train_pixels(&ramp(shape), paper(input), false, &aug, &mut rng).len(), input.len());
        }
    }

    #[test]
    fn ten_crops_are_corners_centre_and_their_mirrors() {
        let input = Shape::new(1, 4, 4);
        // 9 x 12 scales its shorter side to ceil(4 * 256 / 227) = 5: 5 x 6.
        let img = ramp(Shape::new(1, 9, 12));
        let crops = ten_crops(&img, paper(input));
        assert_eq!(crops.len(), 10);
        assert_eq!(crops[4], eval_pixels(&img, paper(input), false), "the centre crop is the evaluation input");
        let (pixels, shape) = scaled(&img, paper(input));
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
    fn translation_shifts_the_image_and_blacks_the_border() {
        let input = Shape::new(2, 6, 7);
        let img = Image { shape: input, pixels: (1..=input.len() as u32).map(|i| i as u8).collect() };
        let aug = Augment { translate: 2, ..Augment::NONE };
        let mut shifted = 0;
        for seed in 0..20 {
            let out = train_pixels(&img, paper(input), true, &aug, &mut SplitMix64::new(seed));
            // Find the shift from the first non-zero value and check every pixel.
            let mut rng = SplitMix64::new(seed);
            let (dy, dx) = ((rng.next_u64() % 5) as i64 - 2, (rng.next_u64() % 5) as i64 - 2);
            shifted += usize::from((dy, dx) != (0, 0));
            for c in 0..2i64 {
                for y in 0..6i64 {
                    for x in 0..7i64 {
                        let (sy, sx) = (y - dy, x - dx);
                        let want = if (0..6).contains(&sy) && (0..7).contains(&sx) {
                            img.pixels[((c * 6 + sy) * 7 + sx) as usize]
                        } else {
                            0
                        };
                        assert_eq!(out[((c * 6 + y) * 7 + x) as usize], want, "seed {seed} shift {dy},{dx}");
                    }
                }
            }
        }
        assert!(shifted > 10, "most draws shift the image");
    }

    #[test]
    fn erasing_overwrites_one_rectangle_or_nothing() {
        let input = Shape::new(1, 32, 32);
        let img = Image { shape: input, pixels: vec![7; input.len()] };
        let always = Augment { erase: 1.0, ..Augment::NONE };
        for seed in 0..20 {
            let out = train_pixels(&img, paper(input), true, &always, &mut SplitMix64::new(seed));
            let changed: Vec<(usize, usize)> =
                (0..input.len()).filter(|&i| out[i] != 7).map(|i| (i / 32, i % 32)).collect();
            assert!(!changed.is_empty(), "seed {seed}: p = 1 erases");
            // The changed pixels lie in a rectangle of at most 40% of the image.
            let (y0, y1) = (changed.iter().map(|p| p.0).min().unwrap(), changed.iter().map(|p| p.0).max().unwrap());
            let (x0, x1) = (changed.iter().map(|p| p.1).min().unwrap(), changed.iter().map(|p| p.1).max().unwrap());
            assert!((y1 - y0 + 1) * (x1 - x0 + 1) <= 1024 * 4 / 10 + 32, "seed {seed}");
        }
        let never = Augment { erase: 0.0, ..Augment::NONE };
        assert_eq!(train_pixels(&img, paper(input), true, &never, &mut SplitMix64::new(1)), img.pixels);
    }

    #[test]
    fn flip_mirrors_rows() {
        let input = Shape::new(1, 2, 3);
        let img = Image { shape: input, pixels: vec![1, 2, 3, 4, 5, 6] };
        let aug = Augment { flip: true, ..Augment::NONE };
        let outs: Vec<Vec<u8>> =
            (0..8).map(|s| train_pixels(&img, paper(input), true, &aug, &mut SplitMix64::new(s))).collect();
        assert!(outs.contains(&vec![3, 2, 1, 6, 5, 4]) && outs.contains(&vec![1, 2, 3, 4, 5, 6]));
    }
}
