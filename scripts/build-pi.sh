#!/usr/bin/env bash
# Cross-builds `host` for a Raspberry Pi (or any aarch64 board) running 64-bit
# Linux, with the Debian cross toolchain scripts/setup.sh installs, and prints
# the binary's path on stdout. Copy that one file to the board:
#
#   scp "$(scripts/build-pi.sh)" pi@raspberrypi.local:
#
# The int8 engine uses the NEON kernels and every core; float runs on dfdx's
# CPU backend. No CUDA, no OpenBLAS: the binary needs only the C library
# (glibc; the version it needs is printed) and libgcc_s, which every
# Raspberry Pi OS and Debian arm64 install has.
#
#   scripts/build-pi.sh [--tract]
#
#   --tract   also build the tract cross-check engine (`eval --engine tract`);
#             off by default: it adds minutes to the build and megabytes to
#             the binary, and the board does not need it
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
features=(--no-default-features)
case "${1:-}" in
    "") ;;
    --tract) features=() ;;
    *) echo "usage: scripts/build-pi.sh [--tract]" >&2; exit 2 ;;
esac

command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || {
    echo "no aarch64-linux-gnu-gcc: run scripts/setup.sh (Debian: gcc-aarch64-linux-gnu)" >&2
    exit 1
}
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi

# The linker comes from .cargo/config.toml ([target.aarch64-unknown-linux-gnu]).
cargo build --release -q -p host --target "$target" "${features[@]}" >&2
bin="${CARGO_TARGET_DIR:-target}/$target/release/host"

# The newest glibc symbol version the binary links against is the oldest
# glibc it runs on.
glibc=$(aarch64-linux-gnu-objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
echo "built $bin for $target ($(du -h "$bin" | cut -f1)); needs glibc >= $glibc on the board" >&2
echo "$bin"
