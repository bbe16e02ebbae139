//! Softmax over logits and top-k selection. Top-k breaks ties toward the lower
//! class index, so host and device rank equal scores identically.

use heapless::Vec;

/// Numerically stable softmax.
pub fn softmax_f32(logits: &[f32], out: &mut [f32]) {
    assert_eq!(logits.len(), out.len(), "softmax length");
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    let mut sum = 0.0;
    for (o, l) in out.iter_mut().zip(logits) {
        *o = libm::expf(l - max);
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// Indices of the `K` largest scores, best first; equal scores keep index
/// order. Returns fewer than `K` when there are fewer scores. NaN ranks last.
pub fn top_k<T: Copy + PartialOrd, const K: usize>(scores: &[T]) -> Vec<usize, K> {
    let mut best: Vec<usize, K> = Vec::new();
    for (i, s) in scores.iter().enumerate() {
        // Position among the kept ones: after every score >= s (a NaN score
        // compares as neither, so it goes after everything).
        let ranks_below = |b: usize| matches!(scores[b].partial_cmp(s), Some(core::cmp::Ordering::Less) | None);
        let pos = best.iter().position(|&b| ranks_below(b)).unwrap_or(best.len());
        if pos < K {
            if best.is_full() {
                best.pop();
            }
            // Cannot fail: one slot was just freed or the vector was not full.
            let _ = best.insert(pos, i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut p = [0.0; 4];
        softmax_f32(&[1.0, 3.0, 2.0, 12.0], &mut p);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[3] > 0.99 && p[1] > p[2] && p[2] > p[0]);
    }

    #[test]
    fn ties_rank_lower_index_first() {
        let v: Vec<usize, 5> = top_k(&[3i8, 7, 7, 1, 7, 3]);
        assert_eq!(v.as_slice(), &[1, 2, 4, 0, 5]);
        let short: Vec<usize, 5> = top_k(&[1.0f32, 2.0]);
        assert_eq!(short.as_slice(), &[1, 0]);
    }

    proptest! {
        #[test]
        fn top_k_matches_a_stable_sort(v in proptest::collection::vec(-20i32..20, 0..60)) {
            let got: Vec<usize, 5> = top_k(&v);
            let mut idx: std::vec::Vec<usize> = (0..v.len()).collect();
            idx.sort_by(|a, b| v[*b].cmp(&v[*a]));
            idx.truncate(5);
            prop_assert_eq!(got.as_slice(), idx.as_slice());
        }
    }
}
