//! A training checkpoint file as `--resume`, `quantize`, `eval` and the
//! other commands read it (`Checkpoint::load`, via `Checkpoint::from_bytes`):
//! safetensors header and data, the JSON spec, recipe, progress, classes and
//! run data in its metadata, the tensors against the spec. Checked: a typed
//! error or a checkpoint, never a panic; a checkpoint has one weight and
//! momentum entry per layer and one class name per output; memory is
//! bounded by the file (tensors are read, never sized from the spec alone).
#![no_main]

use host::train::checkpoint::Checkpoint;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Checkpoint::from_bytes(Path::new("fuzz.safetensors"), data) {
        let spec = &c.model.spec;
        assert_eq!(c.model.layers.len(), spec.layers.len());
        assert_eq!(c.momentum.len(), spec.layers.len());
        assert_eq!(c.classes.len(), spec.classes() as usize);
        for (info, p) in spec.walk().zip(&c.model.layers) {
            assert_eq!(p.weights.len() as u64 + p.bias.len() as u64, info.params());
        }
    }
});
