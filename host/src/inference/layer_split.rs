//! One image's layers split over the host's cores, on rayon's pool, whose
//! threads live as long as the process. `shared::parallel::Threads` starts
//! a thread per part for every layer, which on small maps costs more than
//! the layer: the main command's network took 2.45 ms per image on two
//! cores against 0.62 ms on one.

use shared::parallel::Workers;

/// Cuts each task into `parts` parts: part 0 runs on the calling thread,
/// the others on the current rayon pool.
#[derive(Clone, Copy, Debug)]
pub struct PoolParts(pub usize);

impl Workers for PoolParts {
    fn parts(&self) -> usize {
        self.0.max(1)
    }

    fn run(&self, task: &(dyn Fn(usize) + Sync)) {
        rayon::in_place_scope(|scope| {
            for part in 1..self.parts() {
                scope.spawn(move |_| task(part));
            }
            task(0);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::format::AlignedBytes;
    use shared::parallel::OneCore;
    use shared::spec::AlexNetConfig;
    use shared::{Engine, Model};

    /// Each part writes only its own outputs with the same arithmetic, so
    /// the logits are the same bits whatever the split.
    #[test]
    fn the_logits_do_not_depend_on_the_split() {
        let spec = AlexNetConfig::small(shared::spec::Shape::new(1, 64, 64), 10).with_width(0.25).build().unwrap();
        let (_, bytes) = shared::synthetic::random_model(&spec, 7, 2).unwrap();
        let bytes = AlignedBytes::new(&bytes);
        let model = Model::parse(&bytes).unwrap();
        let engine = Engine::new(&model).unwrap();
        let image: Vec<u8> = (0..spec.input.len()).map(|i| (i * 37 % 251) as u8).collect();
        let logits = |workers: &dyn Workers| {
            let mut buf = vec![0u8; engine.buffer_len()];
            engine.input_region(&mut buf).unwrap().copy_from_slice(&image);
            let top5 = engine.run_in_place_on(&mut buf, workers, |_| {}).unwrap();
            (engine.logits(&buf).to_vec(), top5)
        };
        let one = logits(&OneCore);
        for parts in [1, 2, 3, 5] {
            assert_eq!(logits(&PoolParts(parts)), one, "{parts} parts");
        }
    }
}
