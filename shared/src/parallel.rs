//! Splitting one layer's work over several cores: the board's four, or the
//! host's threads. A layer cuts its work into as many parts as there are
//! workers, each part writes its own disjoint range of the output, and the
//! arithmetic of every output value is the same whoever computes it, so the
//! result does not depend on the number of cores (tested bit for bit).
#![allow(unsafe_code)]

use core::marker::PhantomData;
use core::ops::Range;

/// Runs the parts of a task at once and waits for all of them.
pub trait Workers: Sync {
    /// How many parts to cut work into (the number of cores taking part).
    fn parts(&self) -> usize;
    /// Calls `task(part)` for every part in `0..self.parts()`, concurrently,
    /// and returns when every call has returned.
    fn run(&self, task: &(dyn Fn(usize) + Sync));
    /// Instructions executed since the last call, where the cores count
    /// them (the board's PMU): on the critical path (the calling core's own
    /// work plus, for each task, its busiest part) and on all cores.
    fn take_instructions(&self) -> Option<Instructions> {
        None
    }
    /// With `on`, run the parts of each task one after another on the
    /// calling core: same results, but a counter that only counts
    /// instructions globally (QEMU's under `-icount`) then attributes each
    /// part exactly.
    fn run_parts_in_turn(&self, on: bool) {
        let _ = on;
    }
    /// Marks where the work now belongs (a [`crate::marks`] segment) for an
    /// emulator plugin that counts instructions; a board that leaves such
    /// marks also marks each core's part inside [`run`](Workers::run).
    fn mark_segment(&self, segment: u8) {
        let _ = segment;
    }
}

/// Instruction counts of some stretch of work split over cores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Instructions {
    /// What bounds the time: serial work plus the busiest part of each task.
    pub critical: u64,
    /// Summed over every core.
    pub total: u64,
}

/// Everything on the calling core.
#[derive(Clone, Copy, Debug, Default)]
pub struct OneCore;

impl Workers for OneCore {
    fn parts(&self) -> usize {
        1
    }

    fn run(&self, task: &(dyn Fn(usize) + Sync)) {
        task(0)
    }
}

/// One thread per part, started for each task: simple, for tests. On
/// small maps a thread start costs more than a layer, so the host's
/// engines split layers on rayon's long-lived pool instead (host
/// `inference::layer_split`).
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug)]
pub struct Threads(pub usize);

#[cfg(feature = "std")]
impl Workers for Threads {
    fn parts(&self) -> usize {
        self.0.max(1)
    }

    fn run(&self, task: &(dyn Fn(usize) + Sync)) {
        extern crate std;
        std::thread::scope(|s| {
            for part in 1..self.parts() {
                s.spawn(move || task(part));
            }
            task(0);
        });
    }
}

/// Part `part` of `0..n` cut into `parts` near-equal ranges, in order.
pub fn share(n: usize, part: usize, parts: usize) -> Range<usize> {
    n * part / parts..n * (part + 1) / parts
}

/// Runs `task(part, chunk)` for every part of `workers`, where `chunk` is
/// `data[bounds(part)]`. Panics unless the parts' ranges follow each other
/// without overlapping (so each part owns its chunk).
pub fn run_on_ranges<T: Send>(
    workers: &dyn Workers,
    data: &mut [T],
    bounds: impl Fn(usize) -> Range<usize> + Sync,
    task: impl Fn(usize, &mut [T]) + Sync,
) {
    let parts = workers.parts();
    let mut end = 0;
    for part in 0..parts {
        let r = bounds(part);
        assert!(
            end <= r.start && r.start <= r.end && r.end <= data.len(),
            "part {part}: range {r:?} overlaps or is out of bounds"
        );
        end = r.end;
    }
    let data = Disjoint::new(data);
    workers.run(&|part| {
        // SAFETY: the ranges were checked above to be disjoint and in bounds,
        // and each part takes only its own.
        let chunk = unsafe { data.range(bounds(part)) };
        task(part, chunk)
    });
}

/// A mutable slice whose disjoint ranges the parts of one task write.
struct Disjoint<'a, T> {
    ptr: *mut T,
    len: usize,
    _slice: PhantomData<&'a mut [T]>,
}

// SAFETY: a `Disjoint` only hands out ranges that its caller keeps apart
// (see `range`), so sharing it is sharing `&mut [T]` pieces.
unsafe impl<T: Send> Sync for Disjoint<'_, T> {}

impl<'a, T> Disjoint<'a, T> {
    fn new(slice: &'a mut [T]) -> Self {
        Disjoint { ptr: slice.as_mut_ptr(), len: slice.len(), _slice: PhantomData }
    }

    /// The elements in `r`.
    ///
    /// # Safety
    /// No two ranges taken from one `Disjoint` and alive at the same time
    /// may overlap.
    #[allow(clippy::mut_from_ref)]
    unsafe fn range(&self, r: Range<usize>) -> &'a mut [T] {
        assert!(r.start <= r.end && r.end <= self.len, "range {r:?} outside a slice of {}", self.len);
        // SAFETY: in bounds (checked above) of the slice this was made from,
        // which it borrows mutably for 'a; the caller keeps ranges disjoint.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.add(r.start), r.end - r.start) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_the_range_in_order() {
        for n in [0, 1, 3, 4, 7, 96, 1000] {
            for parts in 1..=5 {
                let mut next = 0;
                for p in 0..parts {
                    let r = share(n, p, parts);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, n);
            }
        }
    }

    #[test]
    #[should_panic(expected = "overlaps")]
    fn overlapping_ranges_are_refused() {
        struct Two;
        impl Workers for Two {
            fn parts(&self) -> usize {
                2
            }
            fn run(&self, task: &(dyn Fn(usize) + Sync)) {
                task(0);
                task(1);
            }
        }
        let mut data = [0u8; 8];
        run_on_ranges(&Two, &mut data, |p| p * 3..p * 3 + 4, |_, _| {});
    }
}
