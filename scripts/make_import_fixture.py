"""Makes the committed test fixture for `host import`: a torchvision-style
AlexNet at 1/16 width (channels 4, 12, 24, 16, 16; FC 128; 10 classes; input
3x224x224), exported to ONNX and to safetensors, with 4 input images and
PyTorch's logits for them.

    python scripts/make_import_fixture.py [--out DIR] [--opset18]

Needs torch, numpy, onnx and safetensors; not torchvision (the network is
defined here with torchvision's module layout, so the state_dict names are
torchvision's: features.0.weight ... classifier.6.bias).

Files written to DIR (default tests/fixtures/torchvision_w16 in this repo):

    model.onnx          TorchScript exporter, opset 17, weights embedded,
                        input "input" [1,3,224,224], output "logits" [1,10]
    model.opset18.onnx  the same at opset 18 (only with --opset18: it repeats
                        the 0.9 MB of weights)
    model.safetensors   the state_dict, torchvision names, float32
    inputs.u8           4 RGB images, uint8 CHW, concatenated
    logits.f32          PyTorch's logits for them, little-endian f32 [4,10]
    labels.txt          10 class names
    manifest.json       versions, shapes, op types, sha256 of each file

The network input is x[c] = (pixel - mean[c]) / std[c] in pixel units, with
torchvision's ImageNet statistics times 255 (the project's Normalize::IMAGENET).
"""

import argparse
import hashlib
import io
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
from safetensors.torch import save_file

# The network definition is train_ddp.py's, so the fixture tests what that
# script trains.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_ddp import TorchvisionAlexNet  # noqa: E402

SEED = 20261203
WIDTH = 1 / 16
# The fixture's widths: torchvision's 64-192-384-256-256 at 1/16, and a
# narrower classifier than 4096/16 to keep the files small.
CONV = (4, 12, 24, 16, 16)
FC = 128
CLASSES = 10
SIDE = 224
IMAGES = 4
OPSET = 17
WEIGHT_GAIN = 6**0.5
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
LABELS = ["apple", "bicycle", "cat", "dune", "elm", "fern", "guitar", "harbour", "igloo", "jellyfish"]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join("tests", "fixtures", "torchvision_w16")


def make_model():
    torch.manual_seed(SEED)
    model = TorchvisionAlexNet(CLASSES, WIDTH, fc=FC)
    assert [m.out_channels for m in model.features if isinstance(m, nn.Conv2d)] == list(CONV)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                # The default init draws biases from a narrow range around
                # zero; wider ones make a dropped or misplaced bias visible.
                p.uniform_(-0.1, 0.1)
            else:
                # The default weight init (variance 1/(3 fan_in)) shrinks the
                # signal about 6x in variance per ReLU layer, so after 8 layers
                # the logits are the biases' and hardly depend on the image.
                # Scaling by sqrt(6) gives He's variance 2/fan_in, which keeps
                # the activations' scale, so an input or layout bug shows.
                p.mul_(WEIGHT_GAIN)
    return model.eval()


def make_images(rng):
    """Smooth colour gradients and blobs plus noise, so activations vary
    across the image rather than averaging out as pure noise does."""
    yy, xx = np.meshgrid(np.linspace(0, 1, SIDE), np.linspace(0, 1, SIDE), indexing="ij")
    images = []
    for _ in range(IMAGES):
        chans = []
        for _c in range(3):
            a, b, c = rng.uniform(-1, 1, 3)
            fx, fy, ph = rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(0, 2 * np.pi)
            cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
            v = 128 + 60 * (a * xx + b * yy + c * xx * yy)
            v += 40 * np.sin(2 * np.pi * (fx * xx + fy * yy) + ph)
            v += 70 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)) * rng.choice([-1, 1])
            v += rng.normal(0, 12, v.shape)
            chans.append(v)
        images.append(np.clip(np.rint(np.stack(chans)), 0, 255).astype(np.uint8))
    return np.stack(images)  # [N, 3, H, W]


def normalize(pixels):
    """uint8 [N,3,H,W] -> float32 network input, computed in float32."""
    x = torch.from_numpy(pixels.astype(np.float32))
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - mean) / std


def torch_export(model, f, opset):
    """TorchScript exporter (dynamo=False): a plain Conv/Relu/MaxPool/
    AveragePool/Flatten/Gemm graph, weights as initializers in the file.
    The input has a fixed batch of 1."""
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, SIDE, SIDE),),
        f,
        input_names=["input"],
        output_names=["logits"],
        opset_version=opset,
        do_constant_folding=True,
        dynamo=False,
    )


def export_onnx(model, path, opset):
    torch_export(model, path, opset)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer):
        sys.exit(f"{path}: weights were written as external data")
    return m


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder, relative to the repo root (default %(default)s)")
    ap.add_argument("--opset18", action="store_true", help="also write model.opset18.onnx")
    args = ap.parse_args()
    out = args.out if os.path.isabs(args.out) else os.path.join(REPO, args.out)
    os.makedirs(out, exist_ok=True)

    # One thread: float sums in the same order on every run and machine class.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    model = make_model()
    pixels = make_images(np.random.default_rng(SEED))
    with torch.no_grad():
        logits = model(normalize(pixels))
        # The exported graph is the single-image one; check batching changed nothing.
        for i in range(IMAGES):
            one = model(normalize(pixels[i : i + 1]))
            assert torch.allclose(one, logits[i : i + 1], rtol=1e-5, atol=1e-5)

    files = {}

    def written(name):
        files[name] = sha256(os.path.join(out, name))

    pixels.tofile(os.path.join(out, "inputs.u8"))
    written("inputs.u8")
    logits.numpy().astype("<f4").tofile(os.path.join(out, "logits.f32"))
    written("logits.f32")

    state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    # `host import` checks "arch" against --arch. safetensors writes the
    # metadata keys in hash order: the file's bytes, not its tensors, can
    # differ between runs.
    save_file(state, os.path.join(out, "model.safetensors"), metadata={"arch": "torchvision", "seed": str(SEED)})
    written("model.safetensors")

    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")
    written("labels.txt")

    m17 = export_onnx(model, os.path.join(out, "model.onnx"), OPSET)
    written("model.onnx")
    op_types = sorted({n.op_type for n in m17.graph.node})
    nodes = [n.op_type for n in m17.graph.node]
    m18 = None
    if args.opset18:
        m18 = export_onnx(model, os.path.join(out, "model.opset18.onnx"), 18)
        written("model.opset18.onnx")

    # Export once more, into memory, to see whether the exporter is byte-stable.
    buf = io.BytesIO()
    torch_export(model, buf, OPSET)
    with open(os.path.join(out, "model.onnx"), "rb") as f:
        onnx_deterministic = buf.getvalue() == f.read()

    # ONNX Runtime is not a dependency; if it happens to be installed, check the
    # exported graph gives PyTorch's logits.
    ort_max_diff = ort_version = None
    try:
        import onnxruntime as ort

        ort_version = ort.__version__
        sess = ort.InferenceSession(os.path.join(out, "model.onnx"), providers=["CPUExecutionProvider"])
        x = normalize(pixels).numpy()
        got = np.concatenate([sess.run(["logits"], {"input": x[i : i + 1]})[0] for i in range(IMAGES)])
        ort_max_diff = float(np.abs(got - logits.numpy()).max())
    except ImportError:
        pass

    manifest = {
        "description": "torchvision-style AlexNet at 1/16 width, for `host import` tests",
        "regenerate": "python scripts/make_import_fixture.py --out tests/fixtures/torchvision_w16  (torch, numpy, onnx, safetensors)",
        "torch_version": torch.__version__,
        "onnx_version": onnx.__version__,
        "numpy_version": np.__version__,
        "exporter": "torch.onnx.export(dynamo=False) (TorchScript exporter), do_constant_folding=True",
        "opset": OPSET,
        "ir_version": m17.ir_version,
        "onnx_bytes_deterministic": onnx_deterministic,
        "seed": SEED,
        "width": WIDTH,
        "conv_channels": list(CONV),
        "fc_features": FC,
        "classes": CLASSES,
        "input_shape": [3, SIDE, SIDE],
        "onnx_input": {"name": "input", "shape": [1, 3, SIDE, SIDE]},
        "onnx_output": {"name": "logits", "shape": [1, CLASSES]},
        "images": IMAGES,
        "inputs_u8": f"uint8 [{IMAGES},3,{SIDE},{SIDE}] CHW, RGB",
        "logits_f32": f"little-endian float32 [{IMAGES},{CLASSES}]",
        "normalize": {"formula": "x[c] = (pixel - mean[c]) / std[c], float32", "mean": list(MEAN), "std": list(STD)},
        "init": "PyTorch's default init, then weights * sqrt(6) (He variance 2/fan_in) and biases uniform(-0.1, 0.1)",
        "onnx_op_types": op_types,
        "onnx_nodes": nodes,
        "opset18_nodes": [n.op_type for n in m18.graph.node] if m18 else None,
        "state_dict": {k: list(v.shape) for k, v in state.items()},
        "onnxruntime_version": ort_version,
        "onnxruntime_max_abs_diff": ort_max_diff,
        "files": {k: {"sha256": v, "bytes": os.path.getsize(os.path.join(out, k))} for k, v in sorted(files.items())},
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    print(f"wrote {out}")
    for name in sorted(files) + ["manifest.json"]:
        print(f"  {name:20s} {os.path.getsize(os.path.join(out, name)):>9d} bytes")
    print("onnx nodes:", " ".join(nodes))
    if m18:
        print("opset 18 nodes:", " ".join(manifest["opset18_nodes"]))
    print("onnx bytes deterministic:", onnx_deterministic, " onnxruntime max |diff|:", ort_max_diff)
    np.set_printoptions(precision=6, suppress=True, linewidth=120)
    for i in range(IMAGES):
        print(f"logits[{i}]:", logits[i].numpy())


if __name__ == "__main__":
    main()
