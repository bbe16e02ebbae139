//! An ONNX model as `host import --onnx` reads it (`import_graph` on the
//! file's bytes): the protobuf decoding (prost, `host::onnx::proto`), the
//! opset, the input, every initializer and Constant, and each node's checks
//! and mapping onto the spec (`import/onnx_graph`). Without a model folder,
//! as for bytes, external data is refused, so its file reading is not
//! fuzzed here. Checked: a typed error or a network, never a panic; a
//! network is valid and has one weight and bias list of the spec's size per
//! layer; memory is bounded by the file (ConstantOfShape, which fills a
//! shape, by its own cap).
#![no_main]

use host::import::onnx_graph::{import_graph, GraphOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(graph) = import_graph(data, &GraphOptions::default()) {
        let model = graph.model;
        assert!(model.spec.validate().is_ok());
        assert_eq!(model.layers.len(), model.spec.layers.len());
        for (info, p) in model.spec.walk().zip(&model.layers) {
            assert_eq!(p.weights.len() as u64 + p.bias.len() as u64, info.params(), "layer {}", info.name);
        }
    }
});
