//! Arbitrary bytes as a model file: parsing must return a typed error or a
//! model, and a model that parses must run without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::format::AlignedBytes;
use shared::{Engine, Model};

fuzz_target!(|data: &[u8]| {
    let buf = AlignedBytes::new(data);
    if let Ok(model) = Model::parse(&buf) {
        // A valid spec can still be huge; keep the fuzzer's memory bounded.
        if model.spec().input.len() > 1 << 20 {
            return;
        }
        if let Ok(engine) = Engine::new(&model) {
            if engine.buffer_len() <= 64 << 20 {
                let mut arena = vec![0u8; engine.buffer_len()];
                let image = vec![128u8; model.spec().input.len()];
                let _ = engine.run(&image, &mut arena);
            }
        }
    }
});
