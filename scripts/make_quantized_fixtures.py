"""Makes the committed fixtures for `host import` of models quantized
elsewhere: the float torchvision-style AlexNet at 1/16 width in
tests/fixtures/torchvision_w16 (scripts/make_import_fixture.py), quantized by
onnxruntime's `quantize_static` three ways, with onnxruntime's int8 outputs
for test images, so the Rust tests compare without Python.

    python scripts/make_quantized_fixtures.py [--out DIR]

Needs onnxruntime and onnx (and numpy). Files written to DIR (default
tests/fixtures/torchvision_w16_int8):

    qdq_u8.onnx   QuantFormat.QDQ, per-channel int8 weights, uint8
                  activations (onnxruntime's recommended x86-64 setting)
    qdq_s8.onnx   QuantFormat.QDQ, per-tensor int8 weights, int8 activations
    qop_u8.onnx   QuantFormat.QOperator (QLinearConv, QGemm), per-channel
                  int8 weights, uint8 activations
    *.out.i8      onnxruntime's quantized logits for the test images, int8
                  [IMAGES, 10] (uint8 outputs moved by -128, as the importer
                  moves them), the final QuantizeLinear's step and zero point
                  in manifest.json
    manifest.json versions, settings, op types, sha256 of each file

The test images are not stored: `image()` below makes them from integers
only (no floats, no library RNG), and images.rs in the fixture folder does
the same in Rust; the manifest keeps their CRC-32 so a difference shows.
Calibration uses the images after them from the same generator.

The float model's last bias is first shifted so each class's mean logit
over the calibration images is 0 (`centre_last_bias`): the randomly
initialized network ranks class 8 first on every image otherwise. Its
metadata is given whole-pixel means (normalize_mean
124,116,104; torchvision's std), the form the int8 model file's input stage
takes (it subtracts integer means), so onnxruntime and the imported model see
the same input. onnxruntime is fed x = (pixel - mean) / std in float32.

For the QOperator variant the float graph's AveragePool with a 1x1 kernel
(torchvision's 6x6 adaptive pool on a 6x6 map: an identity) is removed
first: QOperator gives it an output scale of its own (QLinearAveragePool),
a rescaling the int8 format has no layer for, which the importer refuses.
"""

import argparse
import hashlib
import json
import os
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(REPO, "tests", "fixtures", "torchvision_w16", "model.onnx")
DEFAULT_OUT = os.path.join("tests", "fixtures", "torchvision_w16_int8")
SIDE = 224
IMAGES = 200
CALIBRATION = 16
# Test images are 0..IMAGES-1 of the generator, calibration images follow.
MEAN = (124.0, 116.0, 104.0)
STD = (58.395, 57.12, 57.375)
MASK = (1 << 64) - 1

VARIANTS = {
    "qdq_u8": dict(quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8),
    "qdq_s8": dict(quant_format=QuantFormat.QDQ, per_channel=False, activation_type=QuantType.QInt8),
    "qop_u8": dict(quant_format=QuantFormat.QOperator, per_channel=True, activation_type=QuantType.QUInt8),
}


def splitmix64(x):
    """SplitMix64's output function, on a Python int or a uint64 array
    (numpy's uint64 arithmetic wraps, as Rust's wrapping_* does)."""
    if isinstance(x, np.ndarray):
        with np.errstate(over="ignore"):
            z = x + np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            return z ^ (z >> np.uint64(31))
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def image(n):
    """Image n: per channel a gradient, a triangle wave, a disc and noise,
    integers only (the Rust twin is images.rs in the fixture folder)."""
    ys, xs = np.meshgrid(np.arange(SIDE, dtype=np.int64), np.arange(SIDE, dtype=np.int64), indexing="ij")
    chans = []
    for c in range(3):
        s = splitmix64(n * 3 + c)
        a, b = (s & 0xFF) - 128, ((s >> 8) & 0xFF) - 128
        fx, fy, ph = 1 + (s >> 16) % 7, 1 + (s >> 24) % 7, (s >> 32) & 0x1FF
        cx, cy, r = 40 + (s >> 41) % 144, 40 + (s >> 49) % 144, 20 + (s >> 57) % 40
        sign = 1 if (s >> 63) & 1 else -1
        t = ((xs * fx + ys * fy) * 4 + ph) % 512
        tri = np.abs(t - 256) - 128
        grad = (a * xs + b * ys) // SIDE
        blob = np.where((xs - cx) ** 2 + (ys - cy) ** 2 < r * r, 70 * sign, 0)
        k = np.arange(SIDE * SIDE, dtype=np.uint64).reshape(SIDE, SIDE)
        noise = (splitmix64(np.uint64(s) ^ k) % np.uint64(25)).astype(np.int64) - 12
        chans.append(np.clip(128 + grad // 2 + tri // 3 + blob + noise, 0, 255))
    return np.stack(chans).astype(np.uint8)


def normalize(pixels):
    x = pixels.astype(np.float32)
    mean = np.array(MEAN, dtype=np.float32).reshape(3, 1, 1)
    std = np.array(STD, dtype=np.float32).reshape(3, 1, 1)
    return ((x - mean) / std)[None]


def centre_last_bias(m, images):
    """Shifts the last Gemm's bias so every class's mean logit over `images`
    is 0: the random network otherwise ranks one class first on every
    image, and top-1 agreement would say little."""
    last = [n for n in m.graph.node if n.op_type == "Gemm"][-1]
    bias = next(t for t in m.graph.initializer if t.name == last.input[2])
    session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    mean = np.mean([session.run(None, {"input": normalize(p)})[0][0] for p in images], axis=0)
    values = onnx.numpy_helper.to_array(bias) - mean.astype(np.float32)
    bias.CopyFrom(onnx.numpy_helper.from_array(values.astype(np.float32), bias.name))


def float_model(drop_identity_pool, calibration):
    m = onnx.load(SOURCE)
    centre_last_bias(m, calibration)
    del m.metadata_props[:]
    for key, values in (("normalize_mean", MEAN), ("normalize_std", STD)):
        p = m.metadata_props.add()
        p.key, p.value = key, "[" + ",".join(repr(v) for v in values) + "]"
    if drop_identity_pool:
        nodes = list(m.graph.node)
        pools = [n for n in nodes if n.op_type == "AveragePool"]
        assert len(pools) == 1 and list(pools[0].attribute[0].ints) == [1, 1], "expected one 1x1 AveragePool"
        pool = pools[0]
        for n in nodes:
            for i, name in enumerate(n.input):
                if name == pool.output[0]:
                    n.input[i] = pool.input[0]
        m.graph.node.remove(pool)
    onnx.checker.check_model(m)
    return m


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder, relative to the repo root (default %(default)s)")
    args = ap.parse_args()
    out = args.out if os.path.isabs(args.out) else os.path.join(REPO, args.out)
    os.makedirs(out, exist_ok=True)

    test = [image(n) for n in range(IMAGES)]
    calibration = [image(IMAGES + n) for n in range(CALIBRATION)]
    crc = zlib.crc32(b"".join(t.tobytes() for t in test))

    files, variants = {}, {}
    for name, settings in VARIANTS.items():
        source = os.path.join(out, f"{name}.float.onnx")
        onnx.save(float_model(settings["quant_format"] == QuantFormat.QOperator, calibration), source)

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.batches = iter([{"input": normalize(p)} for p in calibration])

            def get_next(self):
                return next(self.batches, None)

        path = os.path.join(out, f"{name}.onnx")
        quantize_static(source, path, Reader(), weight_type=QuantType.QInt8, **settings)
        os.remove(source)
        m = onnx.load(path)
        # The quantizer keeps the float model's metadata_props? Make sure.
        if not any(p.key == "normalize_mean" for p in m.metadata_props):
            for key, values in (("normalize_mean", MEAN), ("normalize_std", STD)):
                p = m.metadata_props.add()
                p.key, p.value = key, "[" + ",".join(repr(v) for v in values) + "]"
            onnx.save(m, path)
        files[f"{name}.onnx"] = sha256(path)

        # The quantized output: the last QuantizeLinear (QDQ) or the
        # DequantizeLinear's input (QOperator), read back from the logits.
        inits = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
        last_dq = [n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == m.graph.output[0].name]
        assert len(last_dq) == 1, "the graph's output is not a DequantizeLinear"
        scale = float(inits[last_dq[0].input[1]])
        zp = inits[last_dq[0].input[2]]
        shift = 128 if zp.dtype == np.uint8 else 0
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        q = []
        for p in test:
            logits = session.run(None, {"input": normalize(p)})[0][0]
            # Dequantized values are scale * (q - zp) exactly in float32; back to q.
            q.append(np.rint(logits / np.float32(scale)).astype(np.int64) + int(zp) - shift)
        q = np.array(q)
        assert q.min() >= -128 and q.max() <= 127
        out_file = f"{name}.out.i8"
        q.astype(np.int8).tofile(os.path.join(out, out_file))
        files[out_file] = sha256(os.path.join(out, out_file))
        variants[name] = {
            "settings": {k: str(v) for k, v in settings.items()} | {"weight_type": "QuantType.QInt8"},
            "op_types": sorted({(n.domain + ":" if n.domain else "") + n.op_type for n in m.graph.node}),
            "output_scale": scale,
            "output_zero_point_int8": int(zp) - shift,
        }

    manifest = {
        "description": "torchvision_w16 quantized by onnxruntime's quantize_static, for `host import` of int8 models",
        "regenerate": "python scripts/make_quantized_fixtures.py  (onnxruntime, onnx, numpy)",
        "source": "tests/fixtures/torchvision_w16/model.onnx",
        "onnxruntime_version": ort.__version__,
        "onnx_version": onnx.__version__,
        "numpy_version": np.__version__,
        "images": IMAGES,
        "calibration_images": CALIBRATION,
        "image_generator": "scripts/make_quantized_fixtures.py image(n), n = 0..images-1 (calibration: the next ones)",
        "inputs_crc32": crc,
        "normalize": {"mean": MEAN, "std": STD, "formula": "x[c] = (pixel - mean[c]) / std[c], float32"},
        "variants": variants,
        "files": files,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(json.dumps(variants, indent=2))


if __name__ == "__main__":
    main()
