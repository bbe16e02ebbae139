//! Inputs that crashed the `onnx_model` fuzz target (host/fuzz), each now a
//! typed error of one line. The files are the target's `regression-*`
//! seeds, so every fuzz run tries them again; they were written by hand
//! after reading `chain.rs` and confirmed on the target.

use super::{import_graph, GraphOptions};
use crate::import::error::ImportError;
use crate::onnx::proto::{attribute_type, AttributeProto, ModelProto, NodeProto};
use prost::Message;
use shared::spec::SpecError;

fn import(bytes: &[u8]) -> ImportError {
    let err = import_graph(bytes, &GraphOptions::default()).expect_err("refused");
    assert!(!err.to_string().contains('\n'), "one line: {err}");
    err
}

fn node_error(node: &str, op: &str, reason: &str) -> ImportError {
    ImportError::Node { node: node.into(), op: op.into(), reason: reason.into() }
}

/// regression-conv-empty-kernel.onnx: a Conv whose weights are
/// 2^40 x 3 x 0 x 0 (so no values) and no bias. The zero bias was made for
/// 2^40 outputs before the kernel of 0 was refused: 4 TiB asked for, an
/// abort.
#[test]
fn conv_weights_with_an_empty_dimension_are_refused_before_the_bias_is_made() {
    let bytes = include_bytes!("../../../fuzz/seeds/onnx_model/regression-conv-empty-kernel.onnx");
    let reason = "weights of shape [1099511627776, 3, 0, 0]: each dimension must be from 1 to 4294967295";
    assert_eq!(import(bytes), node_error("conv", "Conv", reason));
}

/// regression-pool-matrix-huge.onnx: the Reshape, MatMul, Reshape of an
/// adaptive average pool whose last Reshape asks for 3 x 2^20 x 2^20 cells
/// (with a 1 x 1 matrix). The pool's own matrix, to compare with, was made
/// at 16 x 2^40 values before the file's matrix was found to be of
/// another shape.
#[test]
fn pool_matrix_of_another_shape_is_refused_before_the_reference_is_made() {
    let bytes = include_bytes!("../../../fuzz/seeds/onnx_model/regression-pool-matrix-huge.onnx");
    let reason = "a product over the spatial map that is not an adaptive average pool";
    assert_eq!(import(bytes), node_error("r2", "Reshape", reason));
}

/// regression-constant-of-shape-total.onnx: six ConstantOfShape nodes of
/// 2^27 float32 values each (the first of zeros, the others of ones): each
/// was under the cap per node, together 3 GiB (2.5 of them written) from a
/// few hundred bytes. The cap, 512 MiB, is now on their total.
#[test]
fn constant_of_shape_nodes_are_capped_together() {
    let bytes = include_bytes!("../../../fuzz/seeds/onnx_model/regression-constant-of-shape-total.onnx");
    let reason = "shape 's' is negative, or with the ConstantOfShape nodes before it over 512 MiB of values";
    assert_eq!(import(bytes), node_error("cos1", "ConstantOfShape", reason));
}

/// regression-int-constant-of-shape.onnx: an int64 ConstantOfShape of
/// 2^27 ones (1 GiB, under the total for ConstantOfShape) as a Reshape's
/// shape, which copied it: 2 GiB from 163 bytes. Integers are shapes and
/// flags, so an integer ConstantOfShape now makes at most 64 values.
#[test]
fn integer_constant_of_shape_is_capped_at_a_shapes_length() {
    let bytes = include_bytes!("../../../fuzz/seeds/onnx_model/regression-int-constant-of-shape.onnx");
    let reason = "shape 's' gives an integer tensor of over 64 values; integers are read only as shapes and flags";
    assert_eq!(import(bytes), node_error("fill", "ConstantOfShape", reason));
}

/// regression-reshape-huge-map.onnx: a 3 x 65536 x 65536 input, then a
/// Reshape: its cell count (2^32) overflowed a u32 (a panic with overflow
/// checks, 0 cells without). It flattens; the network is then refused as
/// a whole, for its input.
#[test]
fn reshape_of_a_map_of_over_u32_cells_does_not_overflow() {
    let bytes = include_bytes!("../../../fuzz/seeds/onnx_model/regression-reshape-huge-map.onnx");
    assert_eq!(import(bytes), ImportError::Spec(SpecError::BadInput));
}

/// The conv regression model with 4 x 3 x 3 x 3 weights and `attribute`.
fn conv_with(attribute: AttributeProto) -> Vec<u8> {
    let bytes = include_bytes!("../../../fuzz/seeds/onnx_model/regression-conv-empty-kernel.onnx");
    let mut model = ModelProto::decode(&bytes[..]).unwrap();
    let graph = model.graph.as_mut().unwrap();
    graph.initializer[0].dims = vec![4, 3, 3, 3];
    graph.initializer[0].raw_data = vec![0; 4 * 27 * 4];
    graph.node[0].attribute.push(attribute);
    model.encode_to_vec()
}

fn ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::INTS, ints: ints.to_vec(), ..Default::default() }
}

/// Sizes that do not fit the spec's u32 were cast to one: a stride of -1
/// became 4294967295, a pool kernel of 2^32 + 3 became 3.
#[test]
fn sizes_beyond_u32_are_refused_not_truncated() {
    let reason = "strides [-1, -1] pads [0, 0, 0, 0]: each must be from 0 to 4294967295";
    assert_eq!(import(&conv_with(ints("strides", &[-1, -1]))), node_error("conv", "Conv", reason));

    let mut model = ModelProto::decode(&conv_with(ints("pads", &[1, 1, 1, 1]))[..]).unwrap();
    let graph = model.graph.as_mut().unwrap();
    graph.node[0].output = vec!["c".into()];
    let k = (1i64 << 32) + 3;
    let pool = NodeProto {
        input: vec!["c".into()],
        output: vec!["y".into()],
        name: "pool".into(),
        op_type: "MaxPool".into(),
        attribute: vec![ints("kernel_shape", &[k, k]), ints("strides", &[2, 2])],
        ..Default::default()
    };
    graph.node.push(pool);
    let reason = "kernel [4294967299, 4294967299] strides [2, 2]: only square kernels with equal strides, \
                  each from 1 to 4294967295, are supported";
    assert_eq!(import(&model.encode_to_vec()), node_error("pool", "MaxPool", reason));
}
