//! Fast int8 LRN: the same integer window sums and gain table as
//! [`crate::layers::lrn::lrn_i8_channels`], but each pixel's window slides
//! across the channels (one square added, one dropped) instead of being
//! summed afresh for every output, which halves the work per value. Sums are
//! exact integers, so the result is the reference's bit for bit.

use crate::layers::lrn::{check_lrn_i8, lrn_value, LrnI8Params};
use crate::spec::Shape;
use core::ops::Range;

/// Output channels `channels` of the LRN of `input` (CHW, `shape`) into
/// `output`, which holds those channels: NEON on aarch64, AVX-512 on x86-64
/// CPUs that have it, else the sliding window below.
pub fn lrn_i8(p: &LrnI8Params, shape: Shape, input: &[i8], channels: Range<usize>, output: &mut [i8]) {
    #[cfg(target_arch = "aarch64")]
    super::aarch64::lrn::lrn_i8(p, shape, input, channels, output);
    #[cfg(not(target_arch = "aarch64"))]
    {
        #[cfg(target_arch = "x86_64")]
        if super::x86_64::lrn::available() {
            return super::x86_64::lrn::lrn_i8(p, shape, input, channels, output);
        }
        lrn_i8_sliding(p, shape, input, channels, output)
    }
}

/// [`lrn_i8`] in plain code: each pixel's window slides across the channels.
pub fn lrn_i8_sliding(p: &LrnI8Params, shape: Shape, input: &[i8], channels: Range<usize>, output: &mut [i8]) {
    let (c, hw) = check_lrn_i8(p, shape, input, &channels, output);
    let half = p.size as usize / 2;
    if channels.is_empty() {
        return;
    }
    // A local rather than a read through `p` in the loop: measured fewer
    // instructions on the board.
    let zero_point = p.input_zero_point;
    let centred = |j: usize, px: usize| input[j * hw + px] as i32 - zero_point;
    let square = |j: usize, px: usize| (centred(j, px) * centred(j, px)) as u32;
    let first = channels.start;
    for px in 0..hw {
        let (lo, hi) = (first.saturating_sub(half), (first + half).min(c - 1));
        let mut sum: u32 = (lo..=hi).map(|j| square(j, px)).sum();
        for ch in channels.clone() {
            output[(ch - first) * hw + px] = lrn_value(p, centred(ch, px), sum);
            // The window of ch + 1 drops channel ch - half and takes ch + half + 1.
            if ch >= half {
                sum -= square(ch - half, px);
            }
            if ch + half + 1 < c {
                sum += square(ch + half + 1, px);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::lrn::{build_lrn_table, lrn_i8_channels, lrn_table_len};
    use crate::quant::QParams;
    use crate::spec::LrnSpec;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sliding_windows_equal_the_reference(
            channels in 1u32..12,
            hw in 1u32..150,
            size in prop_oneof![Just(1u32), Just(3), Just(5), Just(7)],
            zero_in in -128i32..=127,
            zero_out in -128i32..=127,
            split in any::<(u8, u8)>(),
            seed in any::<u64>(),
        ) {
            let spec = LrnSpec { size, ..LrnSpec::PAPER };
            let (qin, qout) = (QParams { scale: 0.05, zero_point: zero_in }, QParams { scale: 0.03, zero_point: zero_out });
            let mut table = std::vec![0i32; lrn_table_len(size)];
            let table_params = build_lrn_table(&spec, qin, qout, &mut table).unwrap();
            let p = LrnI8Params { size, input_zero_point: zero_in, output_zero_point: zero_out, table_params, table: &table };
            let shape = Shape::new(channels, 1, hw);
            let input: std::vec::Vec<i8> =
                (0..shape.len()).map(|i| (seed.wrapping_mul(i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as i8).collect();
            let (a, b) = (split.0 as usize % (channels as usize + 1), split.1 as usize % (channels as usize + 1));
            let range = a.min(b)..a.max(b);
            let plane = hw as usize;
            let mut want = std::vec![0i8; range.len() * plane];
            lrn_i8_channels(&p, shape, &input, range.clone(), &mut want);
            let mut got = std::vec![0i8; range.len() * plane];
            lrn_i8_sliding(&p, shape, &input, range.clone(), &mut got);
            prop_assert_eq!(&got, &want);
            #[cfg(target_arch = "x86_64")]
            if crate::kernels::x86_64::lrn::available() {
                got.fill(0);
                crate::kernels::x86_64::lrn::lrn_i8(&p, shape, &input, range.clone(), &mut got);
                prop_assert_eq!(&got, &want);
            }
            #[cfg(target_arch = "aarch64")]
            {
                got.fill(0);
                crate::kernels::aarch64::lrn::lrn_i8(&p, shape, &input, range, &mut got);
                prop_assert_eq!(&got, &want);
            }
        }
    }

    /// Every input at the far end from the zero point: the largest window
    /// sums, which read the table's last segment.
    #[test]
    fn largest_sums_read_the_last_table_segment() {
        let spec = LrnSpec::PAPER;
        for (value, zero_point) in [(-128i8, 127i32), (127, -128)] {
            let q = QParams { scale: 0.05, zero_point };
            let mut table = std::vec![0i32; lrn_table_len(spec.size)];
            let table_params = build_lrn_table(&spec, q, q, &mut table).unwrap();
            let p = LrnI8Params {
                size: spec.size,
                input_zero_point: zero_point,
                output_zero_point: zero_point,
                table_params,
                table: &table,
            };
            let shape = Shape::new(9, 3, 30);
            let input = std::vec![value; shape.len()];
            let mut want = std::vec![0i8; shape.len()];
            lrn_i8_channels(&p, shape, &input, 0..9, &mut want);
            let mut got = std::vec![0i8; shape.len()];
            lrn_i8(&p, shape, &input, 0..9, &mut got);
            assert_eq!(got, want);
        }
    }
}
