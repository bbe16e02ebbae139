//! Board-independent interfaces the app needs beyond `embedded-io` and `embedded-hal`.

/// A free-running CPU cycle counter.
pub trait CycleCounter {
    /// Cycles since some fixed point; use differences (`wrapping_sub`) between two reads.
    fn cycles(&self) -> u64;
}
