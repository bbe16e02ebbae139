"""onnxruntime's inference speed on a network `host bench-infer --onnx` wrote,
f32 and int8, timed by the rule of host/src/steady.rs (scripts/steady.py).
Called by scripts/bench-vs-onnxruntime.sh, which alternates it with
`host bench-infer` in one sitting and prints the ratios.

The int8 model is onnxruntime's own: `quantize_static` with QDQ nodes,
per-channel symmetric int8 weights and uint8 activations (its recommended
x86-64 setting: U8S8, with VNNI kernels where the CPU has them), calibrated
on the same kind of inputs the host's quantizer sees here (zero mean, unit
variance; seeded). It is made once per network and kept beside the f32 file.

    bench_onnxruntime.py MODEL.onnx --batch 32 --images 10 [--json]
    bench_onnxruntime.py compare HOST --rounds 3 --batch 32

The first prints one line per engine: ms/img on 1 thread, ms/img on all
cores, img/s over a batch on all cores, and how each was timed. `compare`
alternates `host bench-infer --onnx --json` and the first form per network
and prints the table with the ratios.
"""

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from steady import TOLERANCE, WINDOW, describe, steady_times  # noqa: E402

# onnxruntime's quantizer suggests a pre-processing step on every call; the
# graph `host export-onnx` writes has its shapes already.
logging.getLogger().setLevel(logging.ERROR)


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


def measure(path, batch, images, seed):
    """{"ms1": ms/img on 1 thread, "msn": on all cores, "ips": img/s over a batch} and how each was timed."""
    cores = os.cpu_count()
    (w1, ok1, t1), _ = timings(path, 1, images, 1, seed)
    (wn, okn, tn), per_batch = timings(path, batch, images, cores, seed)
    figures = {
        "ms1": statistics.median(t1) * 1e3,
        "msn": statistics.median(tn) * 1e3,
        "ips": batch / statistics.median(per_batch[2]) if per_batch else float("nan"),
    }
    notes = [f"1 thread: {describe(w1, ok1, t1)}", f"{cores} threads: {describe(wn, okn, tn)}"]
    if per_batch:
        notes.append(f"batch {batch}: {describe(*per_batch)}")
    return figures, notes


def run_host(host, arch, batch, images, work_dir):
    out = subprocess.run(
        [host, "bench-infer", "--arch", arch, "--board-images", "0", "--images", str(images), "--batch", str(batch),
         "--work-dir", work_dir, "--onnx", "--json", "--quiet"],
        check=True, capture_output=True, text=True,
    ).stdout
    net = json.loads(out)["networks"][0]
    rows = {}
    global HOST_KERNELS
    HOST_KERNELS = net["host"]["int8_kernels"]
    for e in net["host"]["engines"]:
        rows[e["name"]] = {"ms1": e["single_core_ms"], "msn": e["all_cores_ms"], "ips": e["batch_images_per_s"]}
    return net["onnx"], rows


def run_ort(onnx, batch, images):
    out = subprocess.run([sys.executable, __file__, onnx, "--batch", str(batch), "--images", str(images), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


HOST_KERNELS = "unknown"


def spread(values, fmt="{:.2f}"):
    return f"{fmt.format(min(values))} / {fmt.format(statistics.median(values))} / {fmt.format(max(values))}"


def compare(host, rounds, batch, work_dir):
    import onnxruntime as ort

    cores = os.cpu_count()
    print(f"{cores} cores; onnxruntime {ort.__version__}; each figure min / median / max of {rounds} alternating runs, "
          f"each run's figure a median after a warm-up until {WINDOW} runs agree within {TOLERANCE:.0%} (all engines alike)")
    for arch, images in [("paper", 10), ("small", 30)]:
        runs = {}
        for r in range(rounds):
            onnx, rows = run_host(host, arch, batch, images, work_dir)
            rows.update(run_ort(onnx, batch, images))
            for name, fig in rows.items():
                runs.setdefault(name, []).append(fig)
            print(f"  {arch} round {r + 1}: " + ", ".join(f"{k} {v['ms1']:.2f} ms" for k, v in rows.items()),
                  file=sys.stderr, flush=True)
        host_int8 = {k: statistics.median(f[k] for f in runs["host int8"]) for k in ("ms1", "msn", "ips")}
        print(f"\n{arch}, batch 1 and batch {batch} (host int8 kernels: {HOST_KERNELS}; onnxruntime's own for its CPU)")
        print(f"| engine | ms/img, 1 core | ms/img, {cores} cores | img/s, batch {batch} | host int8 time / engine's, 1 core | {cores} cores | host int8 img/s / engine's |")
        print("|---|---|---|---|---|---|---|")
        for name, figs in runs.items():
            med = {k: statistics.median(f[k] for f in figs) for k in ("ms1", "msn", "ips")}
            print(f"| {name} | {spread([f['ms1'] for f in figs])} | {spread([f['msn'] for f in figs])} | "
                  f"{spread([f['ips'] for f in figs], '{:.1f}')} | {host_int8['ms1'] / med['ms1']:.2f}x | "
                  f"{host_int8['msn'] / med['msn']:.2f}x | {host_int8['ips'] / med['ips']:.2f}x |")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "compare":
        ap = argparse.ArgumentParser()
        ap.add_argument("cmd")
        ap.add_argument("host")
        ap.add_argument("--rounds", type=int, default=3)
        ap.add_argument("--batch", type=int, default=32)
        ap.add_argument("--work-dir", default="runs/bench-vs-onnxruntime")
        a = ap.parse_args()
        compare(a.host, a.rounds, a.batch, a.work_dir)
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("onnx")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--images", type=int, default=10, help="timed runs per figure, after the warm-up")
    ap.add_argument("--calibration", type=int, default=16, help="calibration inputs for the int8 model")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="one JSON object of the figures on stdout")
    a = ap.parse_args()
    import onnxruntime as ort

    int8 = quantized(a.onnx, a.calibration, a.seed)
    results = {}
    for name, path in [("onnxruntime f32", a.onnx), ("onnxruntime int8", int8)]:
        figures, notes = measure(path, a.batch, a.images, a.seed)
        results[name] = figures
        if not a.json:
            print(f"{name}: {figures['ms1']:.2f} ms/img 1 thread, {figures['msn']:.2f} ms/img {os.cpu_count()} threads, "
                  f"{figures['ips']:.1f} img/s batch {a.batch} (onnxruntime {ort.__version__})")
            for n in notes:
                print(f"  {n}")
    if a.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
