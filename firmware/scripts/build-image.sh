#!/usr/bin/env bash
# Builds the firmware (release) as a raw image for load address 0x80000 and, with --model,
# appends the model at MODEL_LOAD_OFFSET so one prebuilt firmware serves every model.
#
# Usage: build-image.sh [--board rpi3|rpi4] [--model FILE] [--images FILE] [--baud N] [--out FILE] [--no-semihosting]
#   --board           board feature to build (default rpi3, also QEMU -M raspi3b; rpi4 also raspi4b)
#   --model FILE      append FILE at MODEL_LOAD_OFFSET (image is zero-padded up to it)
#   --images FILE     with --model: append FILE (a test image set, shared/src/card.rs) at the
#                     first 16-byte boundary after the model
#   --baud N          with --model: the UART rate, written in the 16 bytes before the model
#                     (shared/src/settings.rs; the firmware uses 115200 without it)
#   --out FILE        output image (default: <target dir>/aarch64-unknown-none/release/firmware-<board>.bin)
#   --no-semihosting  for real hardware: exit parks the core instead of a semihosting call
# Honours CARGO_TARGET_DIR (default: firmware/target).
set -euo pipefail

# Keep in sync with MODEL_LOAD_OFFSET in src/model.rs and firmware.ld.
MODEL_LOAD_OFFSET=$((0x01000000))
# The settings block (shared/src/settings.rs) ends where the model starts.
SETTINGS_LEN=16

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
firmware_dir="$(dirname "$script_dir")"

board=rpi3
model=""
images=""
out=""
semihosting=1
baud=""

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
absolute() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --board) [[ $# -ge 2 ]] || usage; board="$2"; shift 2 ;;
        --model) [[ $# -ge 2 ]] || usage; model="$(absolute "$2")"; shift 2 ;;
        --images) [[ $# -ge 2 ]] || usage; images="$(absolute "$2")"; shift 2 ;;
        --out) [[ $# -ge 2 ]] || usage; out="$(absolute "$2")"; shift 2 ;;
        --baud) [[ $# -ge 2 ]] || usage; baud="$2"; shift 2 ;;
        --no-semihosting) semihosting=0; shift ;;
        -h|--help) usage ;;
        *) echo "build-image.sh: unknown argument: $1" >&2; usage ;;
    esac
done

case "$board" in
    rpi3|rpi4) ;;
    *) echo "build-image.sh: --board must be rpi3 or rpi4, not '$board'" >&2; exit 2 ;;
esac
if [[ -n "$baud" && ! "$baud" =~ ^[0-9]+$ ]]; then
    echo "build-image.sh: --baud must be a number, not '$baud'" >&2
    exit 2
fi
if [[ -n "$baud" && -z "$model" ]]; then
    echo "build-image.sh: --baud needs --model (the settings sit just before the model)" >&2
    exit 2
fi
if [[ -n "$images" && -z "$model" ]]; then
    echo "build-image.sh: --images needs --model (the images follow the model)" >&2
    exit 2
fi
if [[ -n "$images" && ! -f "$images" ]]; then
    echo "build-image.sh: image set not found: $images" >&2
    exit 1
fi
if [[ -n "$model" && ! -f "$model" ]]; then
    echo "build-image.sh: model file not found: $model" >&2
    exit 1
fi

target_dir="$(absolute "${CARGO_TARGET_DIR:-$firmware_dir/target}")"
export CARGO_TARGET_DIR="$target_dir"
features="$board"
[[ $semihosting -eq 1 ]] && features="$features,semihosting"

# cargo must run inside firmware/ to pick up firmware/.cargo/config.toml (target).
(cd "$firmware_dir" && cargo build --release --no-default-features --features "$features")

elf="$target_dir/aarch64-unknown-none/release/firmware"
[[ -n "$out" ]] || out="$target_dir/aarch64-unknown-none/release/firmware-$board.bin"

objcopy=""
sysroot_objcopy="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/rust-objcopy"
for candidate in "$sysroot_objcopy" rust-objcopy aarch64-linux-gnu-objcopy llvm-objcopy; do
    if command -v "$candidate" >/dev/null 2>&1; then
        objcopy="$candidate"
        break
    fi
done
if [[ -z "$objcopy" ]]; then
    echo "build-image.sh: no objcopy found (rustup component add llvm-tools, or binutils-aarch64-linux-gnu)" >&2
    exit 1
fi

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
"$objcopy" -O binary "$elf" "$tmp"

fw_size=$(stat -c %s "$tmp")
if (( fw_size > MODEL_LOAD_OFFSET - SETTINGS_LEN )); then
    echo "build-image.sh: firmware.bin is $fw_size bytes, over MODEL_LOAD_OFFSET - $SETTINGS_LEN" >&2
    exit 1
fi
if [[ -n "$model" ]]; then
    truncate -s "$MODEL_LOAD_OFFSET" "$tmp"
    if [[ -n "$baud" ]]; then
        le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
        # shellcheck disable=SC2059 # the format holds the bytes
        printf "AXNSET01$(le32 "$baud")$(le32 0)" |
            dd of="$tmp" bs=1 seek=$((MODEL_LOAD_OFFSET - SETTINGS_LEN)) conv=notrunc status=none
    fi
    cat "$model" >> "$tmp"
    if [[ -n "$images" ]]; then
        size=$(stat -c %s "$tmp")
        truncate -s $(( (size + 15) / 16 * 16 )) "$tmp"
        cat "$images" >> "$tmp"
    fi
fi
mv "$tmp" "$out"
trap - EXIT

echo "firmware: $fw_size bytes, board=$board, semihosting=$semihosting" >&2
[[ -n "$model" ]] && echo "model: $(stat -c %s "$model") bytes at offset $MODEL_LOAD_OFFSET" >&2
[[ -n "$images" ]] && echo "test images: $(stat -c %s "$images") bytes after the model" >&2
[[ -n "$baud" ]] && echo "serial: $baud baud" >&2
echo "$out"
