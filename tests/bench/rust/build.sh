#!/usr/bin/env bash
# Builds the Rust benchmark peer (rocketmq-client-rust, see src/main.rs) into
# the meson build dir, never into the source tree, and prints the binary's
# path. The crate versions are those of Cargo.lock (--locked).
# Usage: tests/bench/rust/build.sh [BUILD]   (default build; cargo on PATH
# or in ~/.cargo/bin). Exit status 3: no cargo.
#        tests/bench/rust/build.sh --have-cargo   (exit 0 if cargo is there)
#        tests/bench/rust/build.sh --rustc-version
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cargo=$(command -v cargo || true)
[ -n "$cargo" ] || [ ! -x "$HOME/.cargo/bin/cargo" ] || cargo=$HOME/.cargo/bin/cargo
if [ "${1:-}" = --have-cargo ]; then [ -n "$cargo" ]; exit; fi
if [ "${1:-}" = --rustc-version ]; then PATH=$(dirname "$cargo"):$PATH rustc --version; exit; fi
[ -n "$cargo" ] || { echo "rust peer: no cargo (install rustup, or leave rust out of BENCH_CLIENTS)" >&2; exit 3; }
build=$(cd "$here/../../.." && mkdir -p "${1:-build}" && cd "${1:-build}" && pwd)
export CARGO_TARGET_DIR=$build/tests/bench/rust-target
PATH=$(dirname "$cargo"):$PATH "$cargo" build --release --locked --quiet --manifest-path "$here/Cargo.toml" >&2
echo "$CARGO_TARGET_DIR/release/rust-bench"
