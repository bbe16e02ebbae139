//! Batches decoded and transformed on worker threads, delivered in order, at
//! most `depth` batches ahead of the consumer: the training thread does not
//! wait on JPEG decoding when there are cores for it, and memory stays
//! bounded however slow the consumer is.
//!
//! Workers take batch numbers from a shared counter, but only while the
//! number is below `consumed + depth` (a condition variable holds them back
//! otherwise); finished batches go through a channel and are put back in
//! order on the consumer side. Dropping the loader stops the workers and
//! joins them, so an early `break` out of an epoch neither hangs nor leaks.

use super::dataset::{Dataset, Image};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// One batch, in the order given to the loader.
#[derive(Debug, Default)]
pub struct Batch {
    /// Dataset indices of `images` (and `labels`).
    pub indices: Vec<usize>,
    pub images: Vec<Image>,
    pub labels: Vec<u32>,
    /// Images left out because they could not be decoded: (index, reason).
    pub skipped: Vec<(usize, String)>,
}

/// Runs on a worker after decoding: (image, position in `order`) -> image.
pub type Transform = Arc<dyn Fn(Image, usize) -> Image + Send + Sync>;

/// What a worker sends: a batch, or the panic that stopped it making one.
type Message = (usize, std::thread::Result<Batch>);

/// Shared between the consumer and the workers.
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

struct GateState {
    /// The next batch number a worker may take.
    next_claim: usize,
    /// Batches handed to the consumer so far.
    consumed: usize,
    stop: bool,
}

impl Gate {
    /// A poisoned lock only means another thread panicked while holding it;
    /// the counters are still consistent (each update is one statement).
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a batch number within the window; None when there is no
    /// more work or the loader is being dropped.
    fn claim(&self, batches: usize, depth: usize) -> Option<usize> {
        let mut s = self.lock();
        loop {
            if s.stop || s.next_claim >= batches {
                return None;
            }
            if s.next_claim < s.consumed + depth {
                s.next_claim += 1;
                return Some(s.next_claim - 1);
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Yields batches of the given index order (e.g. a shuffled epoch) in order,
/// decoded by `workers` threads, with at most `depth` batches decoded ahead;
/// images that fail to decode are left out of the batch and listed in
/// `skipped`. `transform` runs on the worker threads after decoding (e.g.
/// resize/augment) and gets the image and its position in `order`.
///
/// A panic in `transform` (or the dataset) is re-raised on the consumer's
/// thread when its batch is due, rather than silently shortening the epoch.
pub struct Loader {
    receiver: Receiver<Message>,
    workers: Vec<JoinHandle<()>>,
    gate: Arc<Gate>,
    /// Batches that arrived before their turn (fewer than `depth`).
    waiting: BTreeMap<usize, std::thread::Result<Batch>>,
    next: usize,
    batches: usize,
}

impl Loader {
    /// Yields `order` in batches of `batch_size` (the last may be smaller;
    /// 0 is taken as 1). `workers` and `depth` below 1 are taken as 1.
    pub fn new(
        dataset: Arc<dyn Dataset>,
        order: Vec<usize>,
        batch_size: usize,
        workers: usize,
        depth: usize,
        transform: Transform,
    ) -> Loader {
        let batch_size = batch_size.max(1);
        let depth = depth.max(1);
        let batches = order.len().div_ceil(batch_size);
        let gate = Arc::new(Gate {
            state: Mutex::new(GateState { next_claim: 0, consumed: 0, stop: false }),
            changed: Condvar::new(),
        });
        let (sender, receiver) = channel();
        let order = Arc::new(order);
        // More workers than batches in flight would only sit waiting.
        let workers = (0..workers.clamp(1, depth.min(batches).max(1)))
            .map(|_| {
                let job = Job {
                    dataset: dataset.clone(),
                    order: order.clone(),
                    transform: transform.clone(),
                    gate: gate.clone(),
                    sender: sender.clone(),
                    batch_size,
                    batches,
                    depth,
                };
                std::thread::spawn(move || job.run())
            })
            .collect();
        Loader { receiver, workers, gate, waiting: BTreeMap::new(), next: 0, batches }
    }
}

/// One worker's share of the loader.
struct Job {
    dataset: Arc<dyn Dataset>,
    order: Arc<Vec<usize>>,
    transform: Transform,
    gate: Arc<Gate>,
    sender: Sender<Message>,
    batch_size: usize,
    batches: usize,
    depth: usize,
}

impl Job {
    fn run(self) {
        while let Some(b) = self.gate.claim(self.batches, self.depth) {
            let batch = catch_unwind(AssertUnwindSafe(|| self.make(b)));
            let panicked = batch.is_err();
            // The consumer is gone when sending fails: nothing left to do.
            if self.sender.send((b, batch)).is_err() || panicked {
                return;
            }
        }
    }

    fn make(&self, b: usize) -> Batch {
        let positions = b * self.batch_size..((b + 1) * self.batch_size).min(self.order.len());
        let mut batch = Batch::default();
        for pos in positions {
            let index = self.order[pos];
            if index >= self.dataset.len() {
                batch.skipped.push((index, format!("index {index} is past the dataset's {}", self.dataset.len())));
                continue;
            }
            match self.dataset.image(index) {
                Ok(img) => {
                    batch.images.push((self.transform)(img, pos));
                    batch.indices.push(index);
                    batch.labels.push(self.dataset.label(index));
                }
                Err(e) => batch.skipped.push((index, e.to_string())),
            }
        }
        batch
    }
}

impl Iterator for Loader {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.batches {
            return None;
        }
        let result = loop {
            if let Some(result) = self.waiting.remove(&self.next) {
                break result;
            }
            match self.receiver.recv() {
                Ok((b, result)) => {
                    self.waiting.insert(b, result);
                }
                // Every worker has exited without sending batch `next`; only
                // possible after a panic, which was re-raised already.
                Err(_) => return None,
            }
        };
        self.next += 1;
        self.gate.lock().consumed = self.next;
        self.gate.changed.notify_all();
        match result {
            Ok(batch) => Some(batch),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.batches - self.next;
        (left, Some(left))
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.gate.lock().stop = true;
        self.gate.changed.notify_all();
        // Workers finish at most the batch in hand (their sends never block).
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{DataError, Result};
    use shared::spec::Shape;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Image i is one pixel of value i (mod 256); multiples of 7 fail to decode.
    struct Numbers {
        len: usize,
        decoded: AtomicUsize,
    }

    fn numbers(len: usize) -> Arc<Numbers> {
        Arc::new(Numbers { len, decoded: AtomicUsize::new(0) })
    }

    impl Dataset for Numbers {
        fn len(&self) -> usize {
            self.len
        }
        fn classes(&self) -> &[String] {
            &[]
        }
        fn image_shape(&self) -> Option<Shape> {
            Some(Shape::new(1, 1, 1))
        }
        fn label(&self, index: usize) -> u32 {
            index as u32 * 10
        }
        fn image(&self, index: usize) -> Result<Image> {
            self.decoded.fetch_add(1, Ordering::SeqCst);
            if index.is_multiple_of(7) {
                return Err(DataError::Decode { path: format!("{index}.png").into(), reason: "corrupt".into() });
            }
            Ok(Image { shape: Shape::new(1, 1, 1), pixels: vec![index as u8] })
        }
        fn describe(&self) -> String {
            "numbers".into()
        }
    }

    fn identity() -> Transform {
        Arc::new(|img, _| img)
    }

    #[test]
    fn batches_come_in_order_with_failures_counted() {
        let order: Vec<usize> = (1..=50).rev().collect();
        for workers in [1, 3] {
            let batches: Vec<Batch> = Loader::new(numbers(60), order.clone(), 8, workers, 2, identity()).collect();
            assert_eq!(batches.len(), 7);
            let last = batches.last().unwrap();
            assert_eq!(last.indices.len() + last.skipped.len(), 2, "partial last batch");
            let seen: Vec<usize> = batches.iter().flat_map(|b| b.indices.clone()).collect();
            let want: Vec<usize> = order.iter().copied().filter(|i| !i.is_multiple_of(7)).collect();
            assert_eq!(seen, want);
            let skipped: Vec<usize> = batches.iter().flat_map(|b| b.skipped.iter().map(|s| s.0)).collect();
            assert_eq!(skipped, [49, 42, 35, 28, 21, 14, 7]);
            assert!(batches[0].skipped[0].1.contains("49.png: cannot decode image: corrupt"));
            for b in &batches {
                assert_eq!((b.images.len(), b.labels.len()), (b.indices.len(), b.indices.len()));
                for (img, (i, l)) in b.images.iter().zip(b.indices.iter().zip(&b.labels)) {
                    assert_eq!((img.pixels[0] as usize, *l), (*i, *i as u32 * 10));
                }
            }
        }
    }

    #[test]
    fn odd_arguments_do_not_hang_or_panic() {
        assert_eq!(Loader::new(numbers(3), vec![], 4, 2, 2, identity()).count(), 0);
        let all: Vec<Batch> = Loader::new(numbers(3), vec![1, 2, 5], 0, 0, 0, identity()).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].skipped[0].0, 5);
        assert!(all[2].skipped[0].1.contains("past the dataset"));
        let loader = Loader::new(numbers(3), vec![1, 2, 1], 2, 4, 2, identity());
        assert_eq!(loader.size_hint(), (2, Some(2)));
    }

    #[test]
    fn transform_sees_positions_and_workers_stay_within_depth() {
        let t: Transform = Arc::new(|mut img: Image, pos| {
            img.pixels[0] = pos as u8;
            img
        });
        let set = numbers(1000);
        let mut loader = Loader::new(set.clone(), (1..1000).collect(), 4, 2, 3, t);
        let first = loader.next().unwrap();
        assert_eq!(first.images.iter().map(|i| i.pixels[0]).collect::<Vec<_>>(), [0, 1, 2, 3]);
        std::thread::sleep(Duration::from_millis(100));
        // One batch consumed, three in flight: 16 images decoded at most.
        assert!(set.decoded.load(Ordering::SeqCst) <= 16, "{}", set.decoded.load(Ordering::SeqCst));
        let second = loader.next().unwrap();
        // Positions 4..8 are indices 5..=8; index 7 fails to decode.
        assert_eq!(second.images.iter().map(|i| i.pixels[0]).collect::<Vec<_>>(), [4, 5, 7]);
        drop(loader); // returns: waiting workers are released and joined
        assert!(set.decoded.load(Ordering::SeqCst) <= 20);
    }

    #[test]
    fn early_drop_of_a_slow_loader_returns_promptly() {
        let slow: Transform = Arc::new(|img, _| {
            std::thread::sleep(Duration::from_millis(5));
            img
        });
        let start = std::time::Instant::now();
        let mut loader = Loader::new(numbers(100_000), (0..100_000).collect(), 16, 2, 4, slow);
        loader.next().unwrap();
        drop(loader);
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    }

    #[test]
    fn a_panicking_transform_is_raised_on_the_consumer_thread() {
        let t: Transform = Arc::new(|img, pos| {
            assert!(pos != 5, "transform bug");
            img
        });
        let result = catch_unwind(AssertUnwindSafe(|| Loader::new(numbers(20), (1..20).collect(), 4, 2, 2, t).count()));
        let payload = result.unwrap_err();
        let message = payload.downcast_ref::<String>().map(String::as_str).or(payload.downcast_ref::<&str>().copied());
        assert_eq!(message, Some("transform bug"));
    }
}
