//! Times the int8 kernels on every weighted layer of the paper network and
//! prints GMAC/s for the fast kernel and the reference, measured in the same
//! run. Useful on the host and under `qemu-aarch64` (NEON path):
//!
//! `cargo run --release -p shared --example layer_speed`

use shared::kernels::{conv2d_i8, conv2d_i8_scratch_len};
use shared::layers::conv::{conv2d_i8_ref, ConvGeometry, ConvI8Params, OutputStage};
use shared::layers::packed::{pack_weights, PackedWeights};
use shared::spec::{AlexNetConfig, Layer};
use std::time::Instant;

fn main() {
    let reference = std::env::args().any(|a| a == "--reference");
    let spec = AlexNetConfig::paper().build().unwrap();
    let pseudo = |i: usize| (((i.wrapping_mul(2654435761)) >> 7) % 255) as i32 - 127;
    let (mut total_macs, mut total_fast, mut total_ref) = (0u64, 0f64, 0f64);
    println!("{:<6} {:>10} {:>12} {:>12}", "layer", "MMAC", "fast GMAC/s", "ref GMAC/s");
    for l in spec.walk() {
        let g = match l.layer {
            Layer::Conv(c) => ConvGeometry::new(l.input, l.output, &c),
            Layer::Dense(_) => ConvGeometry::dense(l.input.len(), l.output.len()),
            _ => continue,
        };
        let channels = g.output.c as usize;
        let weights: Vec<i8> = (0..g.weight_len()).map(|i| pseudo(i) as i8).collect();
        let input: Vec<i8> = (0..g.input.len()).map(|i| pseudo(i + 17) as i8).collect();
        let (bias, multiplier, shift) = (vec![1000; channels], vec![1 << 30; channels], vec![-10; channels]);
        let (packed, sums) = pack_weights(&g.packed_layout(), &weights);
        let params = ConvI8Params {
            geometry: g,
            input_offset: 128,
            weights: PackedWeights { layout: g.packed_layout(), data: &packed, sums: &sums },
            bias: &bias,
            output: OutputStage {
                output_offset: -128,
                act_min: -128,
                act_max: 127,
                multiplier: &multiplier,
                shift: &shift,
            },
        };
        let mut out = vec![0i8; g.output.len()];
        let mut scratch = vec![0i8; conv2d_i8_scratch_len(&g)];
        let t = Instant::now();
        conv2d_i8(&params, &input, &mut out, &mut scratch);
        let fast = t.elapsed().as_secs_f64();
        let refs = if reference {
            let t = Instant::now();
            conv2d_i8_ref(&params, &input, &mut out);
            t.elapsed().as_secs_f64()
        } else {
            f64::NAN
        };
        let macs = l.macs();
        total_macs += macs;
        total_fast += fast;
        total_ref += refs;
        println!(
            "{:<6} {:>10.1} {:>12.3} {:>12.3}",
            l.name.to_string(),
            macs as f64 / 1e6,
            macs as f64 / fast / 1e9,
            macs as f64 / refs / 1e9
        );
    }
    println!(
        "total  {:>10.1} {:>12.3} {:>12.3}   ({:.2} s per image with the fast kernels)",
        total_macs as f64 / 1e6,
        total_macs as f64 / total_fast / 1e9,
        total_macs as f64 / total_ref / 1e9,
        total_fast
    );
}
