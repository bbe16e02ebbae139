#!/usr/bin/env bash
# CPU training speed beside PyTorch on the same networks, in one sitting
# (issue #19): alternates `host bench-train` and a PyTorch training step on
# the small and the paper AlexNet (with and without LRN), each run its own
# process, and prints img/s and peak RSS (min / median / max) and the ratios.
# Each table names the vector instructions each side ran: OpenBLAS picks its
# kernels when it loads, and OPENBLAS_CORETYPE overrides that choice (some
# machines pin it to Haswell, i.e. AVX2, because old OpenBLAS releases
# misdetect new CPUs), while PyTorch picks its own (AVX-512 where present).
#
# Environment (all optional):
#   ROUNDS       alternations per network (default 3)
#   TORCH_VENV   where PyTorch is installed, once (default
#                ~/.cache/alexnet-edge/torch-venv; reused on later runs)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
venv=${TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/alexnet-edge/torch-venv}

step() { printf '\n==> %s\n' "$*" >&2; }

if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
    step "PyTorch into $venv (once)"
    python3 -m venv "$venv"
    # The CPU-only wheels are a tenth of the size; PyPI's default wheel
    # (with CUDA libraries) runs the same CPU kernels where that index is
    # out of reach.
    "$venv/bin/pip" install -q --index-url https://download.pytorch.org/whl/cpu torch ||
        "$venv/bin/pip" install -q torch
fi

step "host (release, without tract, with OpenBLAS where installed)"
host=$(scripts/build-host.sh)

step "alternating host and PyTorch, $rounds rounds per network"
"$venv/bin/python" scripts/bench_pytorch.py compare "$host" --rounds "$rounds"
