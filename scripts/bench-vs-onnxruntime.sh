#!/usr/bin/env bash
# Inference speed beside onnxruntime on the same networks and weights, in one
# sitting (issue #37): alternates `host bench-infer` (host int8, host float)
# and onnxruntime (f32, and int8 from its own quantize_static: QDQ,
# per-channel int8 weights) on the paper network and the main command's, each
# run its own process, every figure a median after a warm-up to a steady time
# (host/src/steady.rs, scripts/steady.py), and prints the figures (min /
# median / max over the rounds) and the ratios of the medians. tract stays the
# cross-check engine (`host eval --engine tract`), not the speed anchor.
#
# Environment (all optional):
#   ROUNDS      alternations per network (default 3)
#   BATCH       images per batch for the throughput figure (default 32)
#   ORT_VENV    where onnxruntime is installed, once (default
#               ~/.cache/alexnet-edge/ort-venv; reused on later runs)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
batch=${BATCH:-32}
venv=${ORT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/alexnet-edge/ort-venv}
work=runs/bench-vs-onnxruntime

step() { printf '\n==> %s\n' "$*" >&2; }

if ! "$venv/bin/python" -c 'import onnxruntime, onnx, numpy' 2>/dev/null; then
    step "onnxruntime into $venv (once)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q onnxruntime onnx numpy
fi

step "host (release, without tract, with OpenBLAS where installed)"
host=$(scripts/build-host.sh)

step "alternating host bench-infer and onnxruntime, $rounds rounds per network"
"$venv/bin/python" scripts/bench_onnxruntime.py compare "$host" --rounds "$rounds" --batch "$batch" --work-dir "$work"
