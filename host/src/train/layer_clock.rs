//! Per-layer wall time of training steps, for `host bench-train --layers`:
//! where a step's time goes, forward and backward, so that a change to one
//! op can be measured on the layer it touches.
//!
//! Forward time is read between layer boundaries. For backward, each
//! boundary tags the tensor that crosses it with a tape op that only reads
//! the clock: backward runs the tape in reverse, so the time between the
//! marks of boundaries k+1 and k is layer k's backward. Off (the default),
//! a forward pass checks one flag and adds nothing to the tape.

use dfdx::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);
static TOTALS: Mutex<Vec<LayerTime>> = Mutex::new(Vec::new());

/// Seconds one layer took, summed over the passes since the last [`take`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LayerTime {
    pub forward: f64,
    pub backward: f64,
}

/// Starts (or stops) timing layers, process-wide, and clears the totals.
pub fn enable(on: bool) {
    TOTALS.lock().expect("layer clock").clear();
    ENABLED.store(on, Ordering::Relaxed);
}

/// The totals so far, one per layer, and a fresh start.
pub fn take() -> Vec<LayerTime> {
    std::mem::take(&mut *TOTALS.lock().expect("layer clock"))
}

fn add(layer: usize, f: impl FnOnce(&mut LayerTime)) {
    let mut totals = TOTALS.lock().expect("layer clock");
    if totals.len() <= layer {
        totals.resize(layer + 1, LayerTime::default());
    }
    f(&mut totals[layer]);
}

/// One forward pass's stopwatch (the shards of a step each have their own;
/// their times add up, so figures are thread-seconds).
pub struct Lap {
    last: Instant,
    /// The first layer of the stretch running now (fused layers run as one).
    stage: usize,
    /// When backward last crossed a boundary of this pass.
    backward: Arc<Mutex<Option<Instant>>>,
}

impl Lap {
    /// A stopwatch when timing is on.
    pub fn start() -> Option<Lap> {
        ENABLED.load(Ordering::Relaxed).then(|| Lap {
            last: Instant::now(),
            stage: 0,
            backward: Arc::new(Mutex::new(None)),
        })
    }

    /// Boundary `k`: the input of layer `k`, after layers `0..k`. Ends the
    /// forward of the stretch of layers since the last boundary (counted to
    /// its first layer) and tags `x` so backward reports the next stretch's
    /// (counted to layer `k`).
    pub fn boundary<S: Shape, D: Device<f32>, T: Tape<f32, D>>(
        &mut self,
        k: usize,
        x: Tensor<S, f32, D, T>,
    ) -> Tensor<S, f32, D, T> {
        let now = Instant::now();
        if k > 0 {
            add(self.stage, |t| t.forward += (now - self.last).as_secs_f64());
        }
        (self.last, self.stage) = (now, k);
        let (x, mut tape) = x.split_tape();
        let backward = self.backward.clone();
        tape.add_backward_op(move |_| {
            let now = Instant::now();
            let mut prev = backward.lock().expect("layer clock");
            // The first mark (the output's) follows the loss, not a layer.
            if let Some(prev) = *prev {
                add(k, |t| t.backward += (now - prev).as_secs_f64());
            }
            *prev = Some(now);
            Ok(())
        });
        x.put_tape(tape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layer of a small network gets a forward and a backward time,
    /// and the tags leave the gradients alone.
    #[test]
    fn times_every_layer_and_leaves_gradients_alone() {
        let dev = Cpu::default();
        let w: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(vec![0.5, -1.0, 2.0, 0.25], (2, 2));
        let x: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(vec![1.0, 2.0, -3.0, 4.0], (2, 2));
        let run = |timed: bool| {
            enable(timed);
            let mut lap = Lap::start();
            assert_eq!(lap.is_some(), timed);
            let mut tag = |k, t| match lap.as_mut() {
                Some(lap) => lap.boundary(k, t),
                None => t,
            };
            let h = tag(0, x.leaky_trace());
            let h = tag(1, h.matmul(w.clone()));
            let h = tag(2, h.relu());
            let g = h.square().sum().backward().get(&x).as_vec();
            (g, take())
        };
        let (plain, none) = run(false);
        let (timed, times) = run(true);
        enable(false);
        assert_eq!(plain, timed);
        assert!(none.is_empty());
        // Other tests' passes may add to the totals while these are on, but
        // never remove a layer.
        assert!(times.len() >= 2, "{times:?}");
        assert!(times[..2].iter().all(|t| t.forward > 0.0 && t.backward > 0.0), "{times:?}");
    }
}
