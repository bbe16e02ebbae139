#!/usr/bin/env bash
# Fuzzes every decoder of outside bytes (issue #18) with cargo-fuzz: the model
# file and the device's request path (shared/fuzz), the board's replies,
# training checkpoints, the IDX and CIFAR-10 files, and the ONNX models and
# safetensors state_dicts `host import` reads (host/fuzz). Each target
# runs for SECONDS (default 60), starting from its committed seeds
# (<crate>/fuzz/seeds/<target>/, copied into the working corpus
# <crate>/fuzz/corpus/<target>/); a crash, timeout or out-of-memory input is
# saved under <crate>/fuzz/artifacts/<target>/. Prints executions, crashes,
# timeouts and out-of-memory inputs per target and in total; exits non-zero if
# any target found one. Installs cargo-fuzz if it is missing.
#
#   scripts/fuzz.sh [SECONDS]
#   FUZZ_TARGETS="device_link reply" scripts/fuzz.sh 30    # some targets only
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

seconds=${1:-60}
case $seconds in
    '' | *[!0-9]*)
        echo "usage: scripts/fuzz.sh [SECONDS]" >&2
        exit 2
        ;;
esac
# crate directory:target, in the order they run.
all_targets=(
    shared/fuzz:parse_model shared/fuzz:device_link
    host/fuzz:reply host/fuzz:checkpoint host/fuzz:idx host/fuzz:cifar10
    host/fuzz:onnx_model host/fuzz:state_dict
)
targets=()
for entry in "${all_targets[@]}"; do
    if [ -z "${FUZZ_TARGETS:-}" ] || [[ " $FUZZ_TARGETS " == *" ${entry#*:} "* ]]; then
        targets+=("$entry")
    fi
done
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz: no target in FUZZ_TARGETS='$FUZZ_TARGETS' (have: ${all_targets[*]#*:})" >&2
    exit 2
fi

step "setup"
# libfuzzer-sys compiles libFuzzer itself.
command -v c++ >/dev/null 2>&1 || scripts/apt-install.sh g++
# The toolchain of rust-toolchain.toml, not nightly: under a nightly rustc
# dfdx's build script turns on its `nightly` feature, which no longer compiles
# (see vendor/README.md), and the host targets link the host crate and so
# dfdx. RUSTC_BOOTSTRAP lets this release compiler take the -Z flags
# cargo-fuzz passes (the address sanitizer); its runtime ships with rust-std.
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1

crates=()
for entry in "${targets[@]}"; do
    [[ " ${crates[*]-} " == *" ${entry%%:*} "* ]] || crates+=("${entry%%:*}")
done
for crate in "${crates[@]}"; do
    step "cargo fuzz build ($crate)"
    (cd "$crate" && cargo fuzz build)
done

# Artifacts of one kind (crash, leak, timeout, oom) the current run saved.
count() { find "$artifacts" -maxdepth 1 -newer "$stamp" -name "$1-*" | wc -l; }

rows=()
total=(0 0 0 0 0) # seconds, executions, crashes, timeouts, oom
failed=0
for entry in "${targets[@]}"; do
    crate=${entry%%:*}
    target=${entry#*:}
    corpus=$crate/corpus/$target
    artifacts=$crate/artifacts/$target
    mkdir -p "$corpus" "$artifacts" "$crate/target"
    cp "$crate/seeds/$target"/* "$corpus/"
    log=$crate/target/fuzz-$target.log
    stamp=$crate/target/fuzz-$target.start
    touch "$stamp"
    step "fuzz $target for ${seconds}s (log: $log)"
    start=$(date +%s)
    status=0
    (cd "$crate" && cargo fuzz run "$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) >"$log" 2>&1 || status=$?
    wall=$(($(date +%s) - start))
    crashes=$(($(count crash) + $(count leak)))
    timeouts=$(count timeout)
    ooms=$(count oom)
    # libFuzzer's last line on a clean finish: "Done N runs in S second(s)";
    # after a crash only its final stats say how many inputs ran.
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
    if [ -n "$done_line" ]; then
        runs=$(awk '{print $2}' <<<"$done_line")
        secs=$(awk '{print $5}' <<<"$done_line")
    else
        runs=$(grep -E '^stat::number_of_executed_units:' "$log" | tail -n 1 | awk '{print $2}' || true)
        runs=${runs:-0}
        secs=$wall
    fi
    if [ $((crashes + timeouts + ooms)) -gt 0 ]; then
        failed=1
        find "$artifacts" -maxdepth 1 -newer "$stamp" -type f | sed 's/^/  found: /' >&2
    elif [ "$status" -ne 0 ]; then
        # Neither a finding nor a clean finish: a build or setup failure.
        failed=1
        tail -n 20 "$log" >&2
    fi
    rows+=("$(printf '%-13s %8s %12s %8s %8s %8s' "$target" "$secs" "$runs" "$crashes" "$timeouts" "$ooms")")
    row=("$secs" "$runs" "$crashes" "$timeouts" "$ooms")
    for i in "${!row[@]}"; do
        total[i]=$((total[i] + row[i]))
    done
    rm -f "$stamp"
done

step "results"
printf '%-13s %8s %12s %8s %8s %8s\n' target seconds executions crashes timeouts oom
printf '%s\n' "${rows[@]}"
printf '%-13s %8s %12s %8s %8s %8s\n' total "${total[@]}"
if [ "$failed" -ne 0 ]; then
    echo "fuzz: failures above; reproduce one with: cd shared/fuzz (or host/fuzz) && RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET ARTIFACT" >&2
    exit 1
fi
