#!/usr/bin/env bash
# Builds the host tool for the scripts that run it (release, without the
# tract cross-check engine: minutes faster), with OpenBLAS for training's
# matrix products where the system has it (Debian: libopenblas-dev, which
# scripts/setup.sh installs), and prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
features=()
if PATH="$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so '; then
    features=(--features openblas)
fi
cargo build --release -q -p host --no-default-features "${features[@]}" >&2
echo "${CARGO_TARGET_DIR:-target}/release/host"
