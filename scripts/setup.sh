#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, as root or with
# sudo, skipping what is already there: the Rust targets of rust-toolchain.toml,
# QEMU (the virtual board, and user mode for NEON kernel tests), aarch64
# binutils and cross gcc, OpenBLAS, and the Fashion-MNIST dataset package.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v qemu-system-aarch64 >/dev/null 2>&1 || need_pkgs+=(qemu-system-arm)
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || need_pkgs+=(dataset-fashion-mnist)
command -v aarch64-linux-gnu-objcopy >/dev/null 2>&1 || need_pkgs+=(binutils-aarch64-linux-gnu)
# NEON kernels are tested on the host under QEMU user mode, cross-linked.
command -v qemu-aarch64 >/dev/null 2>&1 || need_pkgs+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need_pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
# Training's matrix products (the host's `openblas` feature).
PATH="$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so ' || need_pkgs+=(libopenblas-dev)

scripts/apt-install.sh "${need_pkgs[@]}"

# The virtual Pi 4 is QEMU's `raspi4b` machine, new in QEMU 9. Debian 12's
# QEMU is 7.2; its backports suite has 10.0. Elsewhere a QEMU >= 9 from the
# distribution is used as it is.
if ! qemu-system-aarch64 -machine help 2>/dev/null | grep -q '^raspi4b '; then
    scripts/install-qemu-raspi4b.sh
fi

# rustup installs the pinned toolchain (with its targets and components) on
# first use; say so explicitly so a half-installed toolchain is repaired too.
if command -v rustup >/dev/null 2>&1; then
    rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
    installed=$(rustup target list --installed)
    for t in aarch64-unknown-none thumbv7em-none-eabihf aarch64-unknown-linux-gnu; do
        grep -qx "$t" <<<"$installed" || rustup target add "$t"
    done
    rustup component list --installed | grep -q '^llvm-tools' || rustup component add llvm-tools
fi
