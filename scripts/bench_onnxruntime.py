"""onnxruntime's inference speed on a network `host bench-infer --onnx` wrote,
f32 and int8, timed by the rule of host/src/steady.rs (scripts/steady.py).
Called by scripts/bench-vs-onnxruntime.sh, which alternates it with
`host bench-infer` in one sitting and prints the ratios.

The int8 model is onnxruntime's own: `quantize_static` with QDQ nodes,
per-channel symmetric int8 weights and uint8 activations (its recommended
x86-64 setting: U8S8, with VNNI kernels where the CPU has them), calibrated
on the same kind of inputs the host's quantizer sees here (zero mean, unit
variance; seeded). It is made once per network and kept beside the f32 file.

    bench_onnxruntime.py MODEL.onnx --batch 32 --images 10 --calibration 16

Prints one line per engine: name, ms/img on 1 thread, ms/img on all cores,
img/s over a batch on all cores, and how each was timed.
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from steady import describe, steady_times  # noqa: E402


def quantized(f32_path, calibration, seed):
    import numpy as np
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    out = f32_path[: -len(".onnx")] + f".ort-int8-cal{calibration}-seed{seed}.onnx"
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(f32_path):
        return out
    graph = onnx.load(f32_path, load_external_data=False).graph
    name = graph.input[0].name
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim[1:]]
    rng = np.random.default_rng(seed)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{name: rng.standard_normal((1, *dims), dtype=np.float32)} for _ in range(calibration)])

        def get_next(self):
            return next(self.batches, None)

    tmp = out + ".partial"
    quantize_static(f32_path, tmp, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    os.replace(tmp, out)
    return out


def timings(path, batch, images, threads, seed):
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    dims = inp.shape[1:]
    rng = np.random.default_rng(seed)
    one = [rng.standard_normal((1, *dims), dtype=np.float32) for _ in range(4)]
    many = rng.standard_normal((batch, *dims), dtype=np.float32)
    k = [0]

    def single():
        session.run(None, {inp.name: one[k[0] % len(one)]})
        k[0] += 1

    per_image = steady_times(single, images)
    per_batch = steady_times(lambda: session.run(None, {inp.name: many}), images) if batch > 1 else None
    return per_image, per_batch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("onnx")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--images", type=int, default=10, help="timed runs per figure, after the warm-up")
    ap.add_argument("--calibration", type=int, default=16, help="calibration inputs for the int8 model")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    import onnxruntime as ort

    cores = os.cpu_count()
    int8 = quantized(a.onnx, a.calibration, a.seed)
    print(f"onnxruntime {ort.__version__}, CPUExecutionProvider, {cores} cores")
    for name, path in [("onnxruntime f32", a.onnx), ("onnxruntime int8", int8)]:
        (w1, ok1, t1), _ = timings(path, 1, a.images, 1, a.seed)
        (wn, okn, tn), per_batch = timings(path, a.batch, a.images, cores, a.seed)
        median = statistics.median
        batch_rate = a.batch / median(per_batch[2]) if per_batch else float("nan")
        print(f"{name}: {median(t1) * 1e3:.2f} ms/img 1 thread, {median(tn) * 1e3:.2f} ms/img {cores} threads, "
              f"{batch_rate:.1f} img/s batch {a.batch}")
        print(f"  1 thread: {describe(w1, ok1, t1)}")
        print(f"  {cores} threads: {describe(wn, okn, tn)}")
        if per_batch:
            print(f"  batch {a.batch}: {describe(*per_batch)}")


if __name__ == "__main__":
    main()
