//! int8 dot products with int32 accumulation, the inner loop of convolution
//! and dense layers. The portable form is written so LLVM vectorizes it
//! (widening multiplies into independent lanes); `dot_i8_ref` is the plain
//! definition it is tested against.

/// Plain definition: `sum a[i] * b[i]`.
pub fn dot_i8_ref(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(x, y)| *x as i32 * *y as i32).sum()
}

#[cfg(target_arch = "aarch64")]
pub use super::aarch64::dot::{dot4_i8, dot_i8};
#[cfg(not(target_arch = "aarch64"))]
pub use portable::{dot4_i8, dot_i8};

/// Written for LLVM's auto-vectorizer (x86-64 hosts).
#[cfg_attr(target_arch = "aarch64", allow(dead_code))]
pub mod portable {
    use super::dot_i8_ref;

    /// Four dot products of `rows[r]` with one shared `col`, reading `col` once.
    /// `a.len() == col.len()` for every row.
    #[inline]
    pub fn dot4_i8(rows: [&[i8]; 4], col: &[i8]) -> [i32; 4] {
        const LANES: usize = 16;
        let n = col.len();
        for r in rows {
            assert_eq!(r.len(), n, "dot operand lengths");
        }
        let mut acc = [[0i32; LANES]; 4];
        let chunks = n / LANES;
        for c in 0..chunks {
            let x = &col[c * LANES..(c + 1) * LANES];
            for (r, row) in rows.iter().enumerate() {
                let w = &row[c * LANES..(c + 1) * LANES];
                for l in 0..LANES {
                    acc[r][l] += w[l] as i32 * x[l] as i32;
                }
            }
        }
        let tail = chunks * LANES;
        core::array::from_fn(|r| acc[r].iter().sum::<i32>() + dot_i8_ref(&rows[r][tail..], &col[tail..]))
    }

    /// One dot product, same lane structure as [`dot4_i8`].
    #[inline]
    pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        const LANES: usize = 16;
        assert_eq!(a.len(), b.len(), "dot operand lengths");
        let mut acc = [0i32; LANES];
        let chunks = a.len() / LANES;
        for c in 0..chunks {
            let (x, w) = (&a[c * LANES..(c + 1) * LANES], &b[c * LANES..(c + 1) * LANES]);
            for l in 0..LANES {
                acc[l] += w[l] as i32 * x[l] as i32;
            }
        }
        let tail = chunks * LANES;
        acc.iter().sum::<i32>() + dot_i8_ref(&a[tail..], &b[tail..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fast_dots_equal_reference(
            rows in proptest::collection::vec(proptest::collection::vec(any::<i8>(), 70), 4),
            col in proptest::collection::vec(any::<i8>(), 70),
            len in 0usize..70,
        ) {
            let r: [&[i8]; 4] = core::array::from_fn(|i| &rows[i][..len]);
            for got in [dot4_i8(r, &col[..len]), portable::dot4_i8(r, &col[..len])] {
                for i in 0..4 {
                    prop_assert_eq!(got[i], dot_i8_ref(r[i], &col[..len]));
                }
            }
            prop_assert_eq!(dot_i8(r[0], &col[..len]), dot_i8_ref(r[0], &col[..len]));
            prop_assert_eq!(portable::dot_i8(r[0], &col[..len]), dot_i8_ref(r[0], &col[..len]));
        }
    }
}
