#!/usr/bin/env bash
# Runs the whole sdgx test suite: unit, integration, sqllogictest and end-to-end tests.
# Usage: scripts/test.sh            (from anywhere; needs only the Rust toolchain)
set -euo pipefail
cd "$(dirname "$0")/.."
# Build the binaries first: the end-to-end tests start them as separate processes.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast
