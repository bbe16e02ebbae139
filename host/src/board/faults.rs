//! A faulty wire, for testing what the link survives: each byte passing
//! through is, with probability `rate`, flipped in one bit, dropped, or
//! sent twice, and each write is stalled now and then. Seeded, so a failing
//! run repeats. The transport applies one to what it sends and another to
//! what it receives.

use shared::float::SplitMix64;
use std::time::Duration;

/// Damage applied to one direction of a link.
pub struct LineNoise {
    rng: SplitMix64,
    /// Probability that a byte is damaged.
    rate: f64,
    /// Bytes damaged so far.
    pub damaged: u64,
}

impl LineNoise {
    pub fn new(rate: f64, seed: u64) -> LineNoise {
        LineNoise { rng: SplitMix64::new(seed), rate: rate.clamp(0.0, 1.0), damaged: 0 }
    }

    /// `bytes` as they arrive at the other end.
    pub fn pass(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len() + 8);
        for &b in bytes {
            if self.rng.next_f64() >= self.rate {
                out.push(b);
                continue;
            }
            self.damaged += 1;
            match self.rng.next_u64() % 4 {
                0 | 1 => out.push(b ^ (1 << (self.rng.next_u64() % 8))),
                2 => {}
                _ => out.extend([b, b]),
            }
        }
        out
    }

    /// How long to hold a write back: with probability `rate`, a pause of
    /// 1-20 ms.
    pub fn stall(&mut self) -> Duration {
        if self.rng.next_f64() < self.rate {
            Duration::from_millis(1 + self.rng.next_u64() % 20)
        } else {
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damages_about_the_rate_and_repeats_with_the_seed() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let mut a = LineNoise::new(0.01, 5);
        let out = a.pass(&data);
        assert!((800..1200).contains(&a.damaged), "{} damaged", a.damaged);
        assert_ne!(out, data);
        assert_eq!(LineNoise::new(0.01, 5).pass(&data), out, "same seed, same damage");
        assert_eq!(LineNoise::new(0.0, 5).pass(&data), data, "rate 0 passes everything");
    }
}
