//! The int8 GEMM micro-kernels: int32 sums of one weight panel (see
//! [`crate::layers::packed`]) against a panel of [`TILE_COLS`] im2col columns
//! (a 4x4 tile), or against one column (a panel-vector product for dense
//! layers). A column panel is laid out like a weight panel: per step of 16
//! depth values, column 0's 16 bytes, then column 1's, and so on.
//!
//! The fused forms (`tile_i8`, `panel_dot_i8`) also requantize the sums to
//! int8 with the panel's [`RowStage`], in registers on aarch64.
//!
//! [`reference`] holds the plain definitions; the NEON forms (aarch64), the
//! AVX-512 VNNI and AVX2 ones (x86-64, every level the CPU has) and the
//! [`portable`] ones (every other host, and the x86-64 fallback) are tested
//! against them.

pub mod portable;
pub mod reference;

pub use reference::{panel_dot_ref, tile_ref, RowStage, TILE_COLS};

#[cfg(target_arch = "aarch64")]
pub use super::aarch64::tile::{panel_dot, panel_dot_i8, tile, tile_i8};
#[cfg(target_arch = "x86_64")]
pub use super::x86_64::tile::{panel_dot, panel_dot_i8, tile, tile_i8};
#[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
pub use portable::{panel_dot, panel_dot_i8, tile, tile_i8};

/// Which micro-kernels [`tile`] and [`panel_dot`] run on this CPU, for
/// benchmark output: figures mean little without the kernels that made them.
pub fn kernel_name() -> &'static str {
    #[cfg(target_arch = "aarch64")]
    let name = "NEON (ARMv8.0: SMULL/SMLAL2 + SADALP)";
    #[cfg(target_arch = "x86_64")]
    let name = match super::x86_64::tile::level() {
        super::x86_64::tile::Level::Avx512Vnni => "AVX-512 VNNI (vpdpbusd)",
        super::x86_64::tile::Level::Avx2 => "AVX2 (widened to i16, vpmaddwd)",
        super::x86_64::tile::Level::Portable => "portable Rust (no AVX2 on this CPU)",
    };
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
    let name = "portable Rust";
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every kernel level this CPU runs (x86-64 picks one at run time).
    #[cfg(target_arch = "x86_64")]
    fn each_level(
        mut check: impl FnMut(&str, &dyn Fn(&[i8], &[i8]) -> [[i32; 4]; 4], &dyn Fn(&[i8], &[i8]) -> [i32; 4]),
    ) {
        use crate::kernels::x86_64::tile::{levels, panel_dot_on, tile_on};
        for l in levels() {
            check(&format!("{l:?}"), &|w, x| tile_on(l, w, x), &|w, x| panel_dot_on(l, w, x));
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn each_level(
        mut check: impl FnMut(&str, &dyn Fn(&[i8], &[i8]) -> [[i32; 4]; 4], &dyn Fn(&[i8], &[i8]) -> [i32; 4]),
    ) {
        check("fast", &|w, x| tile(w, x), &|w, x| panel_dot(w, x));
    }

    /// Weights as the packer makes them: never -128.
    fn weight() -> impl Strategy<Value = i8> {
        -127i8..=127
    }

    proptest! {
        #[test]
        fn fast_tiles_equal_reference(
            steps in 0usize..6,
            seed in proptest::collection::vec(weight(), 6 * 64),
            cols in proptest::collection::vec(any::<i8>(), 6 * 64),
        ) {
            let (w, x) = (&seed[..steps * 64], &cols[..steps * 64]);
            let want = tile_ref(w, x);
            let v = &cols[..steps * 16];
            let want_dot = panel_dot_ref(w, v);
            prop_assert_eq!(portable::tile(w, x), want);
            prop_assert_eq!(portable::panel_dot(w, v), want_dot);
            let mut wrong = None;
            each_level(|name, tile, dot| {
                if tile(w, x) != want || dot(w, v) != want_dot {
                    wrong.get_or_insert(name.to_string());
                }
            });
            prop_assert_eq!(wrong, None);
        }

        #[test]
        fn fused_requantization_equals_reference(
            stage in row_stage(),
            seed in proptest::collection::vec(weight(), 3 * 64),
            cols in proptest::collection::vec(any::<i8>(), 3 * 64),
        ) {
            let sums = tile_ref(&seed, &cols);
            let want: [[i8; 4]; 4] = core::array::from_fn(|r| sums[r].map(|a| stage.apply_ref(r, a)));
            prop_assert_eq!(tile_i8(&seed, &cols, &stage), want);
            prop_assert_eq!(portable::tile_i8(&seed, &cols, &stage), want);
            #[cfg(target_arch = "x86_64")]
            for l in crate::kernels::x86_64::tile::levels() {
                prop_assert_eq!(crate::kernels::x86_64::tile::tile_i8_on(l, &seed, &cols, &stage), want, "{:?}", l);
            }
            let v = &cols[..3 * 16];
            let sums = panel_dot_ref(&seed, v);
            let want: [i8; 4] = core::array::from_fn(|r| stage.apply_ref(r, sums[r]));
            prop_assert_eq!(panel_dot_i8(&seed, v, &stage), want);
            prop_assert_eq!(portable::panel_dot_i8(&seed, v, &stage), want);
        }
    }

    /// Valid stages with extreme biases, multipliers and shifts, so the sums
    /// reach the saturating and rounding corners of the requantization.
    fn row_stage() -> impl Strategy<Value = RowStage> {
        let bias = prop_oneof![any::<i32>(), -100_000i32..100_000, Just(i32::MAX), Just(i32::MIN)];
        let multiplier = prop_oneof![(1i32 << 30)..=i32::MAX, Just(1 << 30), Just(i32::MAX), Just(0)];
        let shift = prop_oneof![-31i32..=30, -20i32..=0];
        (
            proptest::array::uniform4(bias),
            proptest::array::uniform4(multiplier),
            proptest::array::uniform4(shift),
            -128i32..=127,
            any::<bool>(),
        )
            .prop_map(|(bias, multiplier, shift, output_offset, relu)| RowStage {
                bias,
                multiplier,
                shift,
                output_offset,
                act_min: if relu { output_offset } else { -128 },
                act_max: 127,
            })
    }

    #[test]
    fn extreme_values_do_not_overflow_the_int16_pairs() {
        // Both products of a pair at their largest magnitude: 2 * 127 * 128.
        for (wv, xv) in [(127i8, -128i8), (-127, -128), (127, 127), (-127, 127)] {
            let (w, x) = ([wv; 64 * 3], [xv; 64 * 3]);
            let want = 48 * wv as i32 * xv as i32;
            each_level(|name, tile, dot| {
                assert_eq!(tile(&w, &x), [[want; 4]; 4], "{name}");
                assert_eq!(dot(&w, &x[..48]), [want; 4], "{name}");
            });
        }
    }
}
