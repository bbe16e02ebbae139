"""Training-step throughput of `host bench-train` beside PyTorch on the same
network, alternating in one sitting (issues #19, #37): both sides warm up to a
steady step time and report the median of their timed steps. Called by
scripts/bench-vs-pytorch.sh, which provides the venv and the host binary.

The PyTorch network is built from `host summary`'s table, so both sides train
the same layers: grouped convolutions, LRN after conv1/conv2 (the paper's
alpha, which PyTorch divides by the window size, is multiplied back), the
overlapping 3x3/2 pooling, dropout 0.5 on the hidden FC layers, cross-entropy,
SGD with momentum 0.9 and weight decay 5e-4, random data, all cores.

    bench_pytorch.py compare HOST --rounds N
    bench_pytorch.py step HOST ARCH BATCH STEPS [--no-lrn]   (one PyTorch run)
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from steady import TOLERANCE, WINDOW, describe, steady_times  # noqa: E402

# (arch, batch, timed steps) as issue #19 measures them.
NETWORKS = [("small", 64, 10), ("paper", 16, 10)]

def summary_layers(host, arch):
    """(input CxHxW, [(op text, output CxHxW)]) from `host summary`."""
    out = subprocess.run([host, "summary", "--arch", arch], check=True, capture_output=True, text=True).stdout
    layers, shape = [], None
    for line in out.splitlines():
        m = re.match(r"^(\w+)\s+(conv|lrn|maxpool|dense)\b(.*?)\s+(\d+)x(\d+)x(\d+)\s+\d+", line)
        if m:
            layers.append((m.group(2) + m.group(3), tuple(int(m.group(i)) for i in (4, 5, 6))))
        m = re.match(r"^input (\d+)x(\d+)x(\d+)", line)
        if m:
            shape = tuple(int(g) for g in m.groups())
    if shape is None or not layers:
        sys.exit(f"could not read `host summary --arch {arch}`:\n{out}")
    return shape, layers


def torch_net(shape, layers, lrn):
    import torch.nn as nn

    mods, prev = [], shape
    for op, out in layers:
        words = op.split()
        if words[0] == "conv":
            k, s = re.match(r"(\d+)x\d+/(\d+)", words[1]).groups()
            pad = int(words[words.index("pad") + 1])
            groups = int(next(w for w in words if re.fullmatch(r"g\d+", w))[1:])
            mods.append(nn.Conv2d(prev[0], out[0], int(k), int(s), pad, groups=groups))
        elif words[0] == "lrn":
            p = dict(w.split("=") for w in words[1:])
            if lrn:
                n = int(p["n"])
                mods.append(nn.LocalResponseNorm(n, alpha=float(p["a"]) * n, beta=float(p["b"]), k=float(p["k"])))
        elif words[0] == "maxpool":
            k, s = re.match(r"(\d+)x\d+/(\d+)", words[1]).groups()
            pad = int(words[words.index("pad") + 1]) if "pad" in words else 0
            mods.append(nn.MaxPool2d(int(k), int(s), pad))
        elif words[0] == "dense":
            if not any(isinstance(m, nn.Flatten) for m in mods):
                mods.append(nn.Flatten())
            mods.append(nn.Linear(prev[0] * prev[1] * prev[2], out[0]))
        else:
            sys.exit(f"unknown layer in host summary: {op}")
        if "relu" in words:
            mods.append(nn.ReLU(inplace=True))
        if "dropout" in words:
            mods.append(nn.Dropout(0.5))
        prev = out
    return nn.Sequential(*mods)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def pytorch_step(host, arch, batch, steps, lrn):
    import torch

    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(1)
    shape, layers = summary_layers(host, arch)
    net = torch_net(shape, layers, lrn)
    x = torch.randn(batch, *shape)
    y = torch.arange(batch) % layers[-1][1][0]
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    net.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()

    warmup, ok, times = steady_times(step, steps)
    secs = statistics.median(times)
    params = sum(p.numel() for p in net.parameters())
    isa = torch.backends.cpu.get_cpu_capability()
    print(f"pytorch {torch.__version__} ({isa}): {batch / secs:.1f} img/s, peak RSS {peak_rss_mib():.0f} MiB, {params} parameters; "
          + describe(warmup, ok, times))


def run_host(host, arch, batch, steps):
    out = subprocess.run(
        [host, "bench-train", "--arch", arch, "--batch", str(batch), "--steps", str(steps), "--released-steps", "0"],
        check=True, capture_output=True, text=True,
    ).stdout
    m = re.search(r"this build:\s+([\d.]+) img/s.*peak RSS (\d+) MiB", out)
    if not m:
        sys.exit(f"could not read host bench-train's output:\n{out}")
    # The GEMM library and, for OpenBLAS, the kernels it picked (AVX2 or
    # AVX-512: OPENBLAS_CORETYPE or the library's age can decide).
    lib = re.search(r"GEMM ceiling [\d.]+ GFLOP/s \((OpenBLAS, \w+ kernels|gemm 0\.15)", out)
    return float(m.group(1)), float(m.group(2)), lib.group(1) if lib else "unknown library"


def run_pytorch(host, arch, batch, steps, lrn):
    cmd = [sys.executable, __file__, "step", host, arch, str(batch), str(steps)] + ([] if lrn else ["--no-lrn"])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    m = re.search(r"pytorch (\S+ \(\w+\)): ([\d.]+) img/s, peak RSS (\d+) MiB", out)
    if not m:
        sys.exit(f"could not read the PyTorch run's output:\n{out}")
    return float(m.group(2)), float(m.group(3)), m.group(1)


def spread(values, fmt):
    return f"{fmt.format(min(values))} / {fmt.format(statistics.median(values))} / {fmt.format(max(values))}"


def compare(host, rounds):
    print(f"{os.cpu_count()} cores; each figure min / median / max of {rounds} alternating runs, each run's figure the "
          f"median of its timed steps after a warm-up until {WINDOW} steps agree within {TOLERANCE:.0%} (both sides alike)")
    version, library = None, None
    for arch, batch, steps in NETWORKS:
        runs = {"host": [], "pytorch": [], "pytorch, no LRN": []}
        for r in range(rounds):
            *fig, library = run_host(host, arch, batch, steps)
            runs["host"].append(tuple(fig))
            *fig, version = run_pytorch(host, arch, batch, steps, lrn=True)
            runs["pytorch"].append(tuple(fig))
            *fig, version = run_pytorch(host, arch, batch, steps, lrn=False)
            runs["pytorch, no LRN"].append(tuple(fig))
            print(f"  {arch} round {r + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f}" for k, v in runs.items()) + " img/s",
                  file=sys.stderr, flush=True)
        med = {k: statistics.median(v[0] for v in rs) for k, rs in runs.items()}
        print(f"\n{arch}, batch {batch}, {steps} timed steps per run (host: {library}; PyTorch {version})")
        print(f"| {'engine':<16} | {'img/s':<22} | {'peak RSS MiB':<18} | host / this |")
        print(f"|{'-' * 18}|{'-' * 24}|{'-' * 20}|-------------|")
        for name, rs in runs.items():
            rate = spread([v[0] for v in rs], "{:.1f}")
            rss = spread([v[1] for v in rs], "{:.0f}")
            print(f"| {name:<16} | {rate:<22} | {rss:<18} | {med['host'] / med[name]:10.2f}x |")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare")
    c.add_argument("host")
    c.add_argument("--rounds", type=int, default=3)
    s = sub.add_parser("step")
    s.add_argument("host")
    s.add_argument("arch")
    s.add_argument("batch", type=int)
    s.add_argument("steps", type=int)
    s.add_argument("--no-lrn", action="store_true")
    a = ap.parse_args()
    if a.cmd == "compare":
        compare(a.host, a.rounds)
    else:
        pytorch_step(a.host, a.arch, a.batch, a.steps, not a.no_lrn)


if __name__ == "__main__":
    main()
