//! Every fast kernel against its reference on random shapes (bit-exact for
//! int8), and every int8 reference against the f32 formula with a stated bound.

use proptest::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use shared::kernels::conv_i8::{
    conv2d_i8_on, dense_i8_batch, dense_i8_batch_on, dense_i8_batch_scratch_len, DENSE_BATCH,
};
use shared::kernels::pool_i8::{max_pool_i8, MAX_POOL_ROW};
use shared::kernels::{conv2d_i8, conv2d_i8_scratch_len};
use shared::layers::conv::{conv2d_f32_ref, conv2d_i8_ref, ConvGeometry, ConvI8Params, OutputStage};
use shared::layers::packed::{pack_weights, PackedWeights};
use shared::layers::pool::max_pool;
use shared::parallel::Threads;
use shared::quant::{quantize_bias, quantize_weights_per_channel, QParams, Requant};
use shared::spec::{output_shape, ConvSpec, Layer, PoolSpec, Shape};

/// A random int8 convolution with consistent quantization, plus the float
/// values it stands for.
struct Case {
    geometry: ConvGeometry,
    relu: bool,
    input_qp: QParams,
    output_qp: QParams,
    input: Vec<i8>,
    weights: Vec<i8>,
    packed: (Vec<i8>, Vec<i32>),
    weight_scales: Vec<f32>,
    bias: Vec<i32>,
    multiplier: Vec<i32>,
    shift: Vec<i32>,
}

impl Case {
    fn new(spec: ConvSpec, input: Shape, rng: &mut StdRng) -> Option<Case> {
        let output = output_shape(0, &Layer::Conv(spec), input).ok()?;
        let g = ConvGeometry::new(input, output, &spec);
        let input_qp = QParams::from_range(rng.gen_range(-3.0..0.0), rng.gen_range(0.5..4.0));
        let wf: Vec<f32> = (0..g.weight_len()).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut weights = vec![0i8; wf.len()];
        let mut weight_scales = vec![0f32; output.c as usize];
        quantize_weights_per_channel(&wf, &mut weights, &mut weight_scales);
        let bound = (g.patch_len() as f32).sqrt() * 2.0;
        let output_qp = QParams::from_range(if spec.relu { 0.0 } else { -bound }, bound);
        let bias = weight_scales.iter().map(|s| quantize_bias(rng.gen_range(-0.5..0.5), input_qp.scale, *s)).collect();
        let rq: Vec<Requant> = weight_scales
            .iter()
            .map(|s| Requant::from_real(input_qp.scale as f64 * *s as f64 / output_qp.scale as f64).unwrap())
            .collect();
        Some(Case {
            geometry: g,
            relu: spec.relu,
            input_qp,
            output_qp,
            input: (0..input.len()).map(|_| rng.gen()).collect(),
            packed: pack_weights(&g.packed_layout(), &weights),
            weights,
            weight_scales,
            bias,
            multiplier: rq.iter().map(|r| r.multiplier).collect(),
            shift: rq.iter().map(|r| r.shift).collect(),
        })
    }

    fn params(&self) -> ConvI8Params<'_> {
        ConvI8Params {
            geometry: self.geometry,
            input_offset: -self.input_qp.zero_point,
            weights: PackedWeights {
                layout: self.geometry.packed_layout(),
                data: &self.packed.0,
                sums: &self.packed.1,
            },
            bias: &self.bias,
            output: OutputStage {
                output_offset: self.output_qp.zero_point,
                act_min: if self.relu { self.output_qp.relu_min() } else { -128 },
                act_max: 127,
                multiplier: &self.multiplier,
                shift: &self.shift,
            },
        }
    }
}

fn conv_spec() -> impl Strategy<Value = (ConvSpec, Shape, u64)> {
    // Kernels up to the paper's 11, and 17: wider than the 16-byte row copies.
    (1u32..4, 1u32..6, 1u32..4, 0u32..3, 1u32..3, any::<bool>(), 1u32..20, 1u32..20, any::<u64>()).prop_map(
        |(groups, per_group_in, out_per_group, padding, stride, relu, h, w, seed)| {
            let kernel = [1, 3, 5, 3, 5, 11, 17][(seed % 7) as usize];
            let spec = ConvSpec {
                out_channels: out_per_group * groups,
                kernel,
                stride,
                padding: padding.min(kernel - 1),
                groups,
                relu,
            };
            (spec, Shape::new(per_group_in * groups, h, w), seed)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn fast_conv_equals_reference((spec, input, seed) in conv_spec()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let Some(case) = Case::new(spec, input, &mut rng) else { return Ok(()) };
        let p = case.params();
        let mut want = vec![0i8; case.geometry.output.len()];
        conv2d_i8_ref(&p, &case.input, &mut want);
        let mut got = vec![0i8; want.len()];
        let mut scratch = vec![0i8; conv2d_i8_scratch_len(&case.geometry)];
        conv2d_i8(&p, &case.input, &mut got, &mut scratch);
        prop_assert_eq!(&got, &want);
        // Split over three cores: panels and pixel blocks rarely divide evenly.
        let mut split = vec![0i8; want.len()];
        conv2d_i8_on(&p, &case.input, &mut split, &mut scratch, &Threads(3));
        prop_assert_eq!(split, want);
    }

    /// A layer with a one-pixel output over 1..=4 images at once gives each
    /// image what it gives alone, on one core or split over several.
    #[test]
    fn batched_dense_equals_one_image_at_a_time(
        inputs in 1u32..300,
        outputs in 1u32..40,
        relu in any::<bool>(),
        images in 1usize..=DENSE_BATCH,
        cores in 1usize..=4,
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let spec = ConvSpec { out_channels: outputs, kernel: 1, stride: 1, padding: 0, groups: 1, relu };
        let Some(case) = Case::new(spec, Shape::new(inputs, 1, 1), &mut rng) else { return Ok(()) };
        let p = case.params();
        let batch: Vec<Vec<i8>> = (0..images).map(|_| (0..inputs).map(|_| rng.gen()).collect()).collect();
        let mut scratch = vec![0i8; conv2d_i8_scratch_len(&case.geometry).max(dense_i8_batch_scratch_len(&case.geometry))];
        let want: Vec<Vec<i8>> = batch
            .iter()
            .map(|x| {
                let mut y = vec![0i8; outputs as usize];
                conv2d_i8(&p, x, &mut y, &mut scratch);
                y
            })
            .collect();
        let mut got = vec![vec![0i8; outputs as usize]; images];
        let ins: Vec<&[i8]> = batch.iter().map(|x| x.as_slice()).collect();
        let mut outs: Vec<&mut [i8]> = got.iter_mut().map(|y| y.as_mut_slice()).collect();
        dense_i8_batch(&p, &ins, &mut outs, &mut scratch);
        prop_assert_eq!(&got, &want);
        let mut split = vec![vec![0i8; outputs as usize]; images];
        let mut outs: Vec<&mut [i8]> = split.iter_mut().map(|y| y.as_mut_slice()).collect();
        dense_i8_batch_on(&p, &ins, &mut outs, &mut scratch, &Threads(cores));
        prop_assert_eq!(split, want);
    }

    /// int8 convolution is within one output step of the f32 convolution of
    /// the values the int8 operands stand for (bias and output rounding).
    #[test]
    fn int8_conv_within_one_step_of_f32((spec, input, seed) in conv_spec()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let Some(case) = Case::new(spec, input, &mut rng) else { return Ok(()) };
        let g = case.geometry;
        let mut q = vec![0i8; g.output.len()];
        conv2d_i8_ref(&case.params(), &case.input, &mut q);
        let x: Vec<f32> = case.input.iter().map(|v| case.input_qp.dequantize(*v)).collect();
        let patch = g.patch_len();
        let w: Vec<f32> = case.weights.iter().enumerate().map(|(i, v)| *v as f32 * case.weight_scales[i / patch]).collect();
        let b: Vec<f32> = case.bias.iter().zip(&case.weight_scales).map(|(b, s)| *b as f32 * s * case.input_qp.scale).collect();
        let mut f = vec![0f32; g.output.len()];
        conv2d_f32_ref(&g, &x, &w, &b, case.relu, &mut f);
        for (qv, fv) in q.iter().zip(&f) {
            let want = case.output_qp.quantize(*fv) as i32;
            prop_assert!((*qv as i32 - want).abs() <= 1, "int8 {} vs f32 {} ({})", qv, fv, want);
        }
    }

    #[test]
    fn int8_max_pool_equals_f32_on_dequantized_values(c in 1u32..5, h in 3u32..12, w in 3u32..12, k in 1u32..4, s in 1u32..3, pads in pool_pads(), seed in any::<u64>()) {
        let shape = Shape::new(c, h, w);
        let Some((spec, out_shape)) = padded_pool(k.min(h).min(w), s, pads, shape) else { return Ok(()) };
        let mut rng = StdRng::seed_from_u64(seed);
        let qp = QParams::from_range(-1.0, 2.0);
        let q: Vec<i8> = (0..shape.len()).map(|_| rng.gen()).collect();
        let f: Vec<f32> = q.iter().map(|v| qp.dequantize(*v)).collect();
        let mut qo = vec![0i8; out_shape.len()];
        let mut fo = vec![0f32; out_shape.len()];
        max_pool(&spec, shape, &q, &mut qo);
        max_pool(&spec, shape, &f, &mut fo);
        let back: Vec<f32> = qo.iter().map(|v| qp.dequantize(*v)).collect();
        prop_assert_eq!(back, fo);
    }

    #[test]
    fn fast_max_pool_equals_reference(
        c in 1u32..5,
        h in 1u32..20,
        w in prop_oneof![1u32..40, (MAX_POOL_ROW as u32 - 2)..(MAX_POOL_ROW as u32 + 3)],
        k in 1u32..5,
        s in 1u32..4,
        pads in pool_pads(),
        seed in any::<u64>(),
    ) {
        // Windows as tall and wide as the map, 1-pixel maps, padded and
        // ceil-mode windows, and rows on either side of the fast path's
        // widest.
        let shape = Shape::new(c, h, w);
        let Some((spec, out_shape)) = padded_pool(k.min(h).min(w), s, pads, shape) else { return Ok(()) };
        let mut rng = StdRng::seed_from_u64(seed);
        let input: Vec<i8> = (0..shape.len()).map(|_| rng.gen()).collect();
        let mut want = vec![0i8; out_shape.len()];
        let mut got = vec![0i8; out_shape.len()];
        max_pool(&spec, shape, &input, &mut want);
        max_pool_i8(&spec, shape, &input, &mut got);
        prop_assert_eq!(got, want);
    }
}

/// Pooling padding as drawn: explicit pads per side (0 or 1, each more
/// likely 0), and whether ceil mode adds to the bottom and right ones.
fn pool_pads() -> impl Strategy<Value = ([u32; 4], bool)> {
    (proptest::array::uniform4(prop_oneof![2 => Just(0u32), 1 => Just(1u32)]), any::<bool>())
}

/// The pooling of `k`, `s` and `pads` on `shape`, with ceil mode's extra
/// padding, and its output shape; `None` where the spec refuses it (a pad
/// as wide as the window, a window wholly in the padding).
fn padded_pool(k: u32, s: u32, (pads, ceil): ([u32; 4], bool), shape: Shape) -> Option<(PoolSpec, Shape)> {
    let mut spec = PoolSpec { kernel: k, stride: s, pads };
    if ceil {
        spec.pads[2] = spec.ceil_pads(shape.h, pads[0], pads[2])?;
        spec.pads[3] = spec.ceil_pads(shape.w, pads[1], pads[3])?;
    }
    let out = output_shape(0, &Layer::MaxPool(spec), shape).ok()?;
    Some((spec, out))
}

#[test]
fn padded_and_ceil_mode_pools_fast_equal_reference() {
    // The BVLC AlexNet's pool5 ([0, 0, 1, 1] on 13x13), a ceil-mode pool
    // that takes an extra row and column (6 -> 3), PyTorch's
    // MaxPool2d(3, 2, 1) on a map of all -128 but one value.
    let cases = [
        (PoolSpec { kernel: 3, stride: 2, pads: [0, 0, 1, 1] }, Shape::new(5, 13, 13)),
        (PoolSpec { kernel: 3, stride: 2, pads: [0, 0, 1, 1] }, Shape::new(3, 6, 6)),
        (PoolSpec { kernel: 3, stride: 2, pads: [1; 4] }, Shape::new(2, 7, 9)),
    ];
    let mut rng = StdRng::seed_from_u64(34);
    for (spec, shape) in cases {
        let out = output_shape(0, &Layer::MaxPool(spec), shape).unwrap();
        for sparse in [false, true] {
            let input: Vec<i8> = (0..shape.len()).map(|i| if sparse && i != 5 { i8::MIN } else { rng.gen() }).collect();
            let (mut want, mut got) = (vec![0i8; out.len()], vec![1i8; out.len()]);
            max_pool(&spec, shape, &input, &mut want);
            max_pool_i8(&spec, shape, &input, &mut got);
            assert_eq!(got, want, "{spec:?} on {shape}");
        }
    }
    let spec = PoolSpec { kernel: 3, stride: 2, pads: [0, 0, 1, 1] };
    assert_eq!(output_shape(0, &Layer::MaxPool(spec), Shape::new(1, 6, 6)), Ok(Shape::new(1, 3, 3)));
}

#[test]
fn paper_conv2_fast_equals_reference() {
    // Grouped 5x5 on 96x27x27, the paper's conv2 — a full-size check.
    let spec = ConvSpec { out_channels: 256, kernel: 5, stride: 1, padding: 2, groups: 2, relu: true };
    let case = Case::new(spec, Shape::new(96, 27, 27), &mut StdRng::seed_from_u64(7)).unwrap();
    let p = case.params();
    let mut want = vec![0i8; case.geometry.output.len()];
    conv2d_i8_ref(&p, &case.input, &mut want);
    let mut got = vec![0i8; want.len()];
    let mut scratch = vec![0i8; conv2d_i8_scratch_len(&case.geometry)];
    conv2d_i8(&p, &case.input, &mut got, &mut scratch);
    assert_eq!(got, want);
}
