#!/usr/bin/env bash
# The project's test command (README, CI): installs what is missing, then
# formatting, lints, dependency licenses and sources, every workspace test,
# the no_std builds of `shared`, the firmware build, the CUDA build check,
# and the NEON kernels under QEMU user mode.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "setup"
scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all --check
(cd firmware && cargo fmt --check)

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
(cd firmware && cargo clippy -- -D warnings)
(cd firmware && cargo clippy --no-default-features --features rpi4 -- -D warnings)

step "host without tract (what scripts/demo.sh builds)"
cargo clippy -p host --no-default-features --all-targets -- -D warnings

step "cargo deny: licenses, bans, sources (deny.toml)"
# Only the test command needs it (a few minutes to build, once per machine).
command -v cargo-deny >/dev/null 2>&1 || cargo install -q --locked --version 0.20.2 cargo-deny
cargo deny --log-level error check licenses bans sources
cargo deny --manifest-path firmware/Cargo.toml --log-level error check licenses bans sources

step "shared is no_std (bare-metal builds)"
cargo build -p shared --target aarch64-unknown-none
cargo build -p shared --target thumbv7em-none-eabihf

step "the CUDA training path compiles (dfdx ci-check: no GPU or nvcc needed)"
cargo clippy -p host --features ci-check -- -D warnings

step "firmware image"
firmware/scripts/build-image.sh --board rpi3 >/dev/null

step "host for a Pi under Linux (scripts/build-pi.sh; host/tests/linux_board.rs runs it under QEMU user mode)"
scripts/build-pi.sh >/dev/null

step "cargo test (training on OpenBLAS, as the main command trains)"
cargo test --workspace --features host/openblas

step "NEON kernels against the references (aarch64, QEMU user mode)"
cargo test -p shared --target aarch64-unknown-linux-gnu --lib --test kernels
