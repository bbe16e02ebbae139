//! A PyTorch state_dict in safetensors as `host import --state-dict` reads
//! it: the header's recorded arch, input, mean/std and resize (`recorded`),
//! the pattern they choose as `--arch` would (torchvision's when the file
//! names none, as for the fixture), then `import_state_dict`: the
//! safetensors header and data, the naming scheme, the widths read from the
//! weights, every tensor's dtype and shape. Checked: a typed error or a
//! network, never a panic; a network is valid and has one weight and bias
//! list of the spec's size per layer; memory is bounded by the file.
#![no_main]

use host::import::state_dict::{import_state_dict, recorded};
use libfuzzer_sys::fuzz_target;
use shared::spec::{AlexNetConfig, Normalize, Shape};

fuzz_target!(|data: &[u8]| {
    let rec = recorded(data);
    // As `import`'s state_dict_pattern with no flags but --arch, the
    // arch being the one the file records.
    let mut pattern = match rec.arch.as_deref() {
        None | Some("torchvision") => AlexNetConfig::torchvision(),
        Some("paper") => AlexNetConfig::paper(),
        Some("caffenet") => AlexNetConfig::caffenet(),
        Some("small") => AlexNetConfig::small(Shape::new(1, 64, 64), 10).with_normalize(Normalize::FASHION_MNIST),
        Some(_) => return,
    };
    if let Some(input) = rec.input {
        pattern.input = input;
    }
    match rec.normalize {
        Some((_, channels)) if channels != pattern.input.c as usize => return,
        Some((n, _)) => pattern.normalize = n,
        None => {}
    }
    if let Some(side) = rec.resize {
        pattern.resize = side;
    }
    if let Ok((model, _notes)) = import_state_dict(data, pattern) {
        assert!(model.spec.validate().is_ok());
        assert_eq!(model.layers.len(), model.spec.layers.len());
        for (info, p) in model.spec.walk().zip(&model.layers) {
            assert_eq!(p.weights.len() as u64 + p.bias.len() as u64, info.params(), "layer {}", info.name);
        }
    }
});
