//! int8 convolution on the paper's conv2 and conv3 shapes: the fast kernel,
//! the int8 reference and the f32 reference in the same run. Throughput is
//! reported in elements/s where one element is one multiply-accumulate, so
//! "Gelem/s" reads as GMAC/s.
//!
//! Run: `cargo bench -p shared --bench conv_i8`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shared::kernels::{conv2d_i8, conv2d_i8_scratch_len};
use shared::layers::conv::{conv2d_f32_ref, conv2d_i8_ref, ConvGeometry, ConvI8Params, OutputStage};
use shared::layers::packed::{pack_weights, PackedWeights};
use shared::spec::{output_shape, ConvSpec, Layer, Shape};
use std::time::Duration;

struct Layer8 {
    name: &'static str,
    geometry: ConvGeometry,
    weights: Vec<i8>,
    input: Vec<i8>,
    bias: Vec<i32>,
    multiplier: Vec<i32>,
    shift: Vec<i32>,
}

fn layer(name: &'static str, spec: ConvSpec, input: Shape) -> Layer8 {
    let output = output_shape(0, &Layer::Conv(spec), input).unwrap();
    let geometry = ConvGeometry::new(input, output, &spec);
    let pseudo = |i: usize| ((i.wrapping_mul(2654435761) >> 7) % 255) as i32 - 127;
    let channels = output.c as usize;
    Layer8 {
        name,
        geometry,
        weights: (0..geometry.weight_len()).map(|i| pseudo(i) as i8).collect(),
        input: (0..input.len()).map(|i| pseudo(i + 17) as i8).collect(),
        bias: vec![1000; channels],
        multiplier: vec![1 << 30; channels],
        shift: vec![-10; channels],
    }
}

fn bench(c: &mut Criterion) {
    let layers = [
        layer(
            "conv2",
            ConvSpec { out_channels: 256, kernel: 5, stride: 1, padding: 2, groups: 2, relu: true },
            Shape::new(96, 27, 27),
        ),
        layer(
            "conv3",
            ConvSpec { out_channels: 384, kernel: 3, stride: 1, padding: 1, groups: 1, relu: true },
            Shape::new(256, 13, 13),
        ),
    ];
    for l in &layers {
        let g = &l.geometry;
        let macs = (g.output.len() * g.patch_len()) as u64;
        let (packed, sums) = pack_weights(&g.packed_layout(), &l.weights);
        let params = ConvI8Params {
            geometry: *g,
            input_offset: 128,
            weights: PackedWeights { layout: g.packed_layout(), data: &packed, sums: &sums },
            bias: &l.bias,
            output: OutputStage {
                output_offset: -128,
                act_min: -128,
                act_max: 127,
                multiplier: &l.multiplier,
                shift: &l.shift,
            },
        };
        let mut out = vec![0i8; g.output.len()];
        let mut scratch = vec![0i8; conv2d_i8_scratch_len(g)];
        let xf: Vec<f32> = l.input.iter().map(|v| *v as f32 / 64.0).collect();
        let wf: Vec<f32> = l.weights.iter().map(|v| *v as f32 / 1024.0).collect();
        let bf = vec![0.1f32; g.output.c as usize];
        let mut outf = vec![0f32; g.output.len()];

        let mut group = c.benchmark_group(format!("paper {} ({} MMAC)", l.name, macs / 1_000_000));
        group.throughput(Throughput::Elements(macs));
        group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
        group.bench_function(BenchmarkId::new("int8 fast", l.name), |b| {
            b.iter(|| conv2d_i8(&params, &l.input, &mut out, &mut scratch))
        });
        group.bench_function(BenchmarkId::new("int8 reference", l.name), |b| {
            b.iter(|| conv2d_i8_ref(&params, &l.input, &mut out))
        });
        group.bench_function(BenchmarkId::new("f32 reference", l.name), |b| {
            b.iter(|| conv2d_f32_ref(g, &xf, &wf, &bf, true, &mut outf))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
