#!/usr/bin/env bash
# The main job on the embedded default. Until training and the board link
# land, it shows what exists end to end: the default network and its memory
# plan, then a boot of the virtual board (QEMU raspi3b).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -q -p host
target/release/host summary
image=$(firmware/scripts/build-image.sh --board rpi3)
printf 'virtual board says hello\x04' |
    timeout 120 qemu-system-aarch64 -M raspi3b -kernel "$image" -serial stdio -display none -semihosting
