#!/usr/bin/env bash
# Benchmark of the national figures (issue 16; first written for issue 5); see bench/figures.py
# for what it measures. Not a test. Builds the release binaries into ${CARGO_TARGET_DIR:-target}
# (a no-op when they are up to date; set BENCH_NO_BUILD=1 to skip), then runs the benchmark with
# the project's virtualenv on those binaries and writes the subsection "### <label>" of
# "## Figures from facts (issue 16)" in BENCHMARKS.md.
#
# Usage: bench/figures.sh [--sizes 1000000,10000000] [--label TEXT] [--budget S] [--work DIR]
#                         [--no-write] ...        (bench/figures.sh --help lists them all)
# Scratch files (generated federations, stores, logs, results.json) go to bench/work/figures-<rows>/.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash scripts/venv.sh)
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  cargo build --release --workspace --bins >&2
fi
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
BENCH_BIN="$target/release" exec "$python" bench/figures.py "$@"
