#!/usr/bin/env bash
# Benchmark of the national figures and Flight SQL (issue 5); see bench/figures.py for what it
# measures. Not a test. Builds the release binaries (a no-op when they are up to date; set
# BENCH_NO_BUILD=1 to skip), then runs the benchmark with the project's virtualenv and
# writes the section "## Figures and Flight SQL (issue 5)" of BENCHMARKS.md.
#
# Usage: bench/figures.sh [--rows N] [--reps N] [--clients N] [--calls N] [--work DIR] [--check]
#                         [--no-write] ...        (bench/figures.sh --help lists them all)
# Scratch files (generated federation, store, logs, results.json) go to bench/work/.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash scripts/venv.sh)
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  cargo build --release --bins >&2
fi
exec "$python" bench/figures.py "$@"
