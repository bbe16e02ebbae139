"""Makes the committed test fixtures for importing Caffe-lineage AlexNets:
ONNX graphs with the layout of the ONNX model zoo's `bvlcalexnet` and
`caffenet`, at 1/16 width with seeded random weights, each with 4 input
images and onnxruntime's logits for them.

    python scripts/make_caffe_fixtures.py [--out DIR]

Needs onnx, onnxruntime and numpy (not torch or Caffe: the graphs are built
with onnx's helper API).

Why built and not copied: the `onnx` wheel ships the BVLC AlexNet's graph as
onnx/backend/test/data/light/light_bvlc_alexnet.onnx (opset 9), but with
every weight a ConstantOfShape of 0.02, so its logits test nothing. This
script builds the same node sequence (checked against that file when the
installed onnx has it: operators in order, and every Conv's, LRN's,
MaxPool's and Dropout's attributes) with random weights at small width,
keeping one bias as a ConstantOfShape so that path is tested too.

Folders written under DIR (default tests/fixtures in this repo):

    bvlc_alexnet_w16/   opset 9: Conv, Relu, LRN, MaxPool (pool5 padded
                        [0, 0, 1, 1], as Caffe's ceil mode reaches ONNX),
                        Reshape, Gemm (transB), Dropout (ratio attribute,
                        mask output), Softmax; input 3x115x115, where the
                        padded row and column of pool5 are read
    caffenet_w16/       opset 10: CaffeNet's order, pooling before each LRN,
                        every MaxPool with ceil_mode=1 taking an extra row
                        and column; Flatten; input 3x103x103

Each folder holds:

    model.onnx          the graph, weights embedded (Softmax at the end)
    inputs.u8           4 images, uint8 CHW (BGR, as Caffe reads), concatenated
    logits.f32          onnxruntime's outputs of the graph without its final
                        Softmax (the logits), little-endian f32 [4, 10]
    manifest.json       versions, shapes, the normalization, sha256 of files

The network input is x[c] = pixel - mean[c] (Caffe's mean subtraction, std
1) with the BVLC model's BGR means 104, 117, 123.
"""

import argparse
import hashlib
import json
import os

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

SEED = 20261207
CLASSES = 10
IMAGES = 4
# BVLC's 96-256-384-384-256 and 4096-4096 at 1/16 (fc at 1/32).
CONV = (6, 16, 24, 24, 16)
FC = 128
MEAN = (104.0, 117.0, 123.0)
LRN = dict(size=5, alpha=1e-4, beta=0.75, bias=1.0)


def conv_node(name, x, out, w, b, kernel, stride, pad, group):
    attrs = dict(kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4)
    if group != 1:
        attrs["group"] = group
    return helper.make_node("Conv", [x, w, b], [out], name=name, **attrs)


class Graph:
    """A chain of nodes with seeded weights, named as the BVLC file names them."""

    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits, self.inputs = [], [], []
        self.current = "data_0"
        self.count = 0

    def next(self):
        out = f"r{self.count}"
        name = f"n{self.count}"
        self.count += 1
        return name, out

    def weight(self, name, shape, fan_in):
        w = self.rng.standard_normal(shape).astype(np.float32) * np.float32((2.0 / fan_in) ** 0.5)
        self.inits.append(numpy_helper.from_array(w, name))

    def bias(self, name, n, constant=None):
        if constant is None:
            b = self.rng.uniform(-0.1, 0.1, n).astype(np.float32)
            self.inits.append(numpy_helper.from_array(b, name))
        else:
            # As the light BVLC file stores every weight: a ConstantOfShape
            # whose shape is an initializer that is also a graph input.
            shape = name + "__SHAPE"
            self.inits.append(numpy_helper.from_array(np.array([n], dtype=np.int64), shape))
            self.inputs.append(helper.make_tensor_value_info(shape, TensorProto.INT64, [1]))
            value = helper.make_tensor("value", TensorProto.FLOAT, [1], [constant])
            self.nodes.append(helper.make_node("ConstantOfShape", [shape], [name], value=value))

    def op(self, op, inputs=(), outputs=1, **attrs):
        name, out = self.next()
        outs = [out] + [self.next()[1] for _ in range(outputs - 1)]
        self.nodes.append(helper.make_node(op, [self.current, *inputs], outs, name=name, **attrs))
        self.current = out

    def conv(self, layer, c_in, c_out, kernel, stride, pad, group, constant_bias=None):
        w, b = f"{layer}_w_0", f"{layer}_b_0"
        self.weight(w, (c_out, c_in // group, kernel, kernel), c_in // group * kernel * kernel)
        self.bias(b, c_out, constant_bias)
        name, out = self.next()
        self.nodes.append(conv_node(name, self.current, out, w, b, kernel, stride, pad, group))
        self.current = out
        self.op("Relu")

    def classifier(self, flat):
        """fc6 and fc7 (ReLU, then Dropout 0.5 with its mask output), fc8."""
        self.gemm("fc6", flat, FC, True)
        self.op("Dropout", outputs=2, ratio=0.5)
        self.gemm("fc7", FC, FC, True)
        self.op("Dropout", outputs=2, ratio=0.5)
        self.gemm("fc8", FC, CLASSES, False)

    def gemm(self, layer, n_in, n_out, relu):
        w, b = f"{layer}_w_0", f"{layer}_b_0"
        self.weight(w, (n_out, n_in), n_in)
        self.bias(b, n_out)
        self.op("Gemm", [w, b], transB=1)
        if relu:
            self.op("Relu")

    def pool(self, pads=(0, 0, 0, 0), ceil_mode=None):
        attrs = dict(kernel_shape=[3, 3], strides=[2, 2], pads=list(pads))
        if ceil_mode is not None:
            attrs["ceil_mode"] = ceil_mode
        self.op("MaxPool", **attrs)


def bvlc_alexnet(rng, side):
    """The BVLC AlexNet's graph as the light file has it: LRN then pooling."""
    g = Graph(rng)
    c1, c2, c3, c4, c5 = CONV
    g.conv("conv1", 3, c1, 11, 4, 0, 1)
    g.op("LRN", **LRN)
    g.pool()
    g.conv("conv2", c1, c2, 5, 1, 2, 2)
    g.op("LRN", **LRN)
    g.pool()
    g.conv("conv3", c2, c3, 3, 1, 1, 1)
    g.conv("conv4", c3, c4, 3, 1, 1, 2)
    g.conv("conv5", c4, c5, 3, 1, 1, 2, constant_bias=0.02)
    g.pool(pads=(0, 0, 1, 1))
    map_side = pooled_side(side, [(11, 4, 0), "pool", (5, 1, 2), "pool", (3, 1, 1), (3, 1, 1), (3, 1, 1), "pool5"])
    flat = c5 * map_side * map_side
    shape = "OC2_DUMMY_1"
    g.inits.append(numpy_helper.from_array(np.array([1, flat], dtype=np.int64), shape))
    g.inputs.append(helper.make_tensor_value_info(shape, TensorProto.INT64, [2]))
    g.op("Reshape", [shape])
    g.classifier(flat)
    return g, 9


def caffenet(rng, side):
    """CaffeNet: pooling before each LRN, Caffe's ceil-mode pooling."""
    g = Graph(rng)
    c1, c2, c3, c4, c5 = CONV
    g.conv("conv1", 3, c1, 11, 4, 0, 1)
    g.pool(ceil_mode=1)
    g.op("LRN", **LRN)
    g.conv("conv2", c1, c2, 5, 1, 2, 2)
    g.pool(ceil_mode=1)
    g.op("LRN", **LRN)
    g.conv("conv3", c2, c3, 3, 1, 1, 1)
    g.conv("conv4", c3, c4, 3, 1, 1, 2)
    g.conv("conv5", c4, c5, 3, 1, 1, 2)
    g.pool(ceil_mode=1)
    map_side = pooled_side(side, [(11, 4, 0), "ceil", (5, 1, 2), "ceil", (3, 1, 1), (3, 1, 1), (3, 1, 1), "ceil"])
    g.op("Flatten", axis=1)
    g.classifier(c5 * map_side * map_side)
    return g, 10


def pooled_side(side, layers):
    """The map's side after `layers`: convs as (kernel, stride, pad), 3x3/2
    pools in floor mode ("pool"), floor over pads [0, 0, 1, 1] ("pool5"), or
    ceil mode ("ceil")."""
    for layer in layers:
        if layer == "pool":
            side = (side - 3) // 2 + 1
        elif layer == "pool5":
            side = (side + 1 - 3) // 2 + 1
        elif layer == "ceil":
            side = -(-(side - 3) // 2) + 1
        else:
            k, s, p = layer
            side = (side + 2 * p - k) // s + 1
    return side


def to_model(g, opset, side):
    softmax = helper.make_node("Softmax", [g.current], ["prob_1"], name=f"n{g.count}")
    data = helper.make_tensor_value_info("data_0", TensorProto.FLOAT, [1, 3, side, side])
    prob = helper.make_tensor_value_info("prob_1", TensorProto.FLOAT, [1, CLASSES])
    graph = helper.make_graph(g.nodes + [softmax], "alexnet", [data] + g.inputs, [prob], initializer=g.inits)
    # The IR versions of the onnx releases that introduced opsets 9 and 10.
    ir = {9: 4, 10: 5}[opset]
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_caffe_fixtures.py", ir_version=ir
    )
    onnx.checker.check_model(model)
    return model


def logits_model(model):
    """The model without its final Softmax: its output is the logits."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    last = m.graph.node[-1]
    assert last.op_type == "Softmax"
    logits = last.input[0]
    del m.graph.node[-1]
    del m.graph.output[:]
    m.graph.output.append(helper.make_tensor_value_info(logits, TensorProto.FLOAT, [1, CLASSES]))
    return m


def run(model, images):
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    mean = np.array(MEAN, dtype=np.float32).reshape(1, 3, 1, 1)
    out = []
    for image in images:
        x = image[None].astype(np.float32) - mean
        out.append(session.run(None, {"data_0": x})[0][0])
    return np.stack(out).astype(np.float32)


def check_against_light_file(make):
    """The node sequence of the BVLC builder at full width against the light
    file in the onnx wheel, where the installed onnx has it."""
    path = os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light/light_bvlc_alexnet.onnx")
    if not os.path.exists(path):
        return None
    light = onnx.load(path)
    # The builder's nodes, then the Softmax `to_model` adds.
    ours = [n for n in make if n.op_type != "ConstantOfShape"]
    theirs = [n for n in light.graph.node if n.op_type != "ConstantOfShape"]
    assert theirs[-1].op_type == "Softmax"
    theirs = theirs[:-1]
    assert [n.op_type for n in ours] == [n.op_type for n in theirs], "node sequence differs"
    for a, b in zip(ours, theirs):
        attrs = lambda n: {x.name: helper.get_attribute_value(x) for x in n.attribute}
        if a.op_type in ("Conv", "MaxPool", "LRN", "Dropout", "Gemm"):
            assert attrs(a) == attrs(b), (a.op_type, attrs(a), attrs(b))
        assert len(a.input) == len(b.input) and len(a.output) == len(b.output), a.op_type
    return os.path.relpath(path, os.path.dirname(os.path.dirname(onnx.__file__)))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_fixture(out, name, build, side, rng, description):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    g, opset = build(rng, side)
    model = to_model(g, opset, side)
    images = rng.integers(0, 256, size=(IMAGES, 3, side, side), dtype=np.uint8)
    logits = run(logits_model(model), images)
    probs = run(model, images)
    # The graph's own output is the softmax of the logits.
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert np.allclose(probs, e / e.sum(axis=1, keepdims=True), atol=1e-6)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    images.tofile(os.path.join(folder, "inputs.u8"))
    logits.astype("<f4").tofile(os.path.join(folder, "logits.f32"))
    files = {f: {"sha256": sha256(os.path.join(folder, f)), "bytes": os.path.getsize(os.path.join(folder, f))}
             for f in ("model.onnx", "inputs.u8", "logits.f32")}
    manifest = {
        "description": description,
        "regenerate": "python scripts/make_caffe_fixtures.py --out tests/fixtures  (onnx, onnxruntime, numpy)",
        "onnx_version": onnx.__version__,
        "onnxruntime_version": onnxruntime.__version__,
        "numpy_version": np.__version__,
        "opset": opset,
        "ir_version": model.ir_version,
        "seed": SEED,
        "conv_channels": list(CONV),
        "fc_features": FC,
        "classes": CLASSES,
        "input_shape": [3, side, side],
        "onnx_input": {"name": "data_0", "shape": [1, 3, side, side]},
        "onnx_output": {"name": "prob_1", "shape": [1, CLASSES], "note": "Softmax of the logits"},
        "onnx_nodes": [n.op_type for n in model.graph.node],
        "max_pool_attributes": [
            {a.name: helper.get_attribute_value(a) for a in n.attribute}
            for n in model.graph.node
            if n.op_type == "MaxPool"
        ],
        "images": IMAGES,
        "inputs_u8": f"uint8 [{IMAGES},3,{side},{side}] CHW, BGR",
        "logits_f32": f"little-endian float32 [{IMAGES},{CLASSES}]: onnxruntime on the graph without its Softmax",
        "normalize": {"formula": "x[c] = pixel - mean[c] (std 1), float32", "mean": list(MEAN), "std": [1.0] * 3},
        "init": "weights normal * sqrt(2 / fan_in), biases uniform(-0.1, 0.1); conv5's bias in bvlc is a "
        "ConstantOfShape of 0.02",
        "files": files,
    }
    return folder, manifest


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures"))
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    light = check_against_light_file(bvlc_alexnet(np.random.default_rng(0), 224)[0].nodes)
    for name, build, side, description in [
        ("bvlc_alexnet_w16", bvlc_alexnet, 115, "the BVLC AlexNet's ONNX graph (opset 9) at 1/16 width"),
        ("caffenet_w16", caffenet, 103, "CaffeNet's order (pool before LRN, ceil-mode pools), opset 10, 1/16 width"),
    ]:
        folder, manifest = write_fixture(args.out, name, build, side, rng, description)
        if build is bvlc_alexnet:
            manifest["checked_against"] = light or "light_bvlc_alexnet.onnx not in the installed onnx; not checked"
        with open(os.path.join(folder, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
        print(folder, manifest["files"])


if __name__ == "__main__":
    main()
