#!/usr/bin/env bash
# The main job on the embedded default, on a fresh machine: train the small
# AlexNet on Fashion-MNIST (CPU), quantize it to int8, build the virtual board
# (QEMU raspi3b) with the model and the test images on its card, run them on
# it and compare its answers with the host's. Prints the time each stage took.
#
# Environment (all optional):
#   RUN_DIR        where everything goes (default runs/demo; replaced)
#   MINUTES        training budget in minutes (default 7)
#   DEVICE_IMAGES  test images sent to the virtual boards (default: all 10,000)
set -euo pipefail
cd "$(dirname "$0")/.."
run=${RUN_DIR:-runs/demo}
minutes=${MINUTES:-7}
device_images=${DEVICE_IMAGES:-}

scripts/setup.sh
echo "== building the host tool (release, without the tract cross-check engine: minutes faster)"
host=$(scripts/build-host.sh)
model="$run/alexnet-int8.axq"
rm -rf "$run"

times=()
stage() {
    local name=$1
    shift
    echo
    echo "== $name: $*"
    local start=$SECONDS
    "$@"
    times+=("$(printf '%-10s %4d s' "$name" $((SECONDS - start)))")
}

stage train $host train --out "$run" --width 0.5 --minutes "$minutes"
stage quantize $host quantize --checkpoint "$run/checkpoint.safetensors" --out "$model"
# The test images go onto the board's card with the model, as on a real Pi's SD
# card: the board runs them from memory and sends back only each top-5.
stage flash $host flash --model "$model" --board qemu --images ${device_images:+--limit "$device_images"}
# One virtual board per core, each on a share of the images.
stage run $host run --board qemu --model "$model" --from-card ${device_images:+--limit "$device_images"}
stage compare $host compare --model "$model" --checkpoint "$run/checkpoint.safetensors"

echo
echo "== time per stage"
printf '%s\n' "${times[@]}"
echo "outputs in $run: checkpoint.safetensors, metrics.csv, curves.png, alexnet-int8.axq, compare.csv, compare.json"
