//! Training's random streams: one seeded generator per purpose (shuffling,
//! augmentation, dropout) and index (epoch, image, step), independent of any
//! running state, so a resumed run draws what an uninterrupted one would.

use shared::float::SplitMix64;

/// A generator for one purpose and index, independent of any running state.
pub fn stream(seed: u64, purpose: u64, index: u64) -> SplitMix64 {
    let mut mix = SplitMix64::new(seed ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for _ in 0..2 {
        mix.next_u64();
    }
    SplitMix64::new(mix.next_u64() ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03))
}

pub const SHUFFLE: u64 = 1;
pub const AUGMENT: u64 = 2;
pub const DROPOUT: u64 = 3;

/// Epoch `epoch`'s visiting order of `len` images (Fisher-Yates).
pub fn epoch_order(seed: u64, epoch: u32, len: usize) -> Vec<usize> {
    let mut rng = stream(seed, SHUFFLE, epoch as u64);
    let mut order: Vec<usize> = (0..len).collect();
    for i in (1..len).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    order
}

/// Inverted-dropout multipliers: 0 with probability `p`, else 1/(1-p), so
/// inference needs no rescaling.
pub fn dropout_mask(rng: &mut SplitMix64, n: usize, p: f32) -> Vec<f32> {
    if p <= 0.0 {
        return vec![1.0; n];
    }
    // Compare 24 random bits with p * 2^24: exact for p = 0.5 and cheap.
    let threshold = (p as f64 * (1u64 << 24) as f64) as u64;
    let keep = 1.0 / (1.0 - p);
    (0..n).map(|_| if rng.next_u64() >> 40 < threshold { 0.0 } else { keep }).collect()
}
