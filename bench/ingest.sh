#!/usr/bin/env bash
# The ingest benchmark (issue 8). Not a test. Publishes 10,000,000 observations from one agent
# identity to a release coordinator and reports, in the same run (tests/examples/ingest_bench.rs):
#   (a) the full path: do_put over mutual TLS, validation, durable Delta commit, acknowledgement;
#   (b) a bare arrow-flight do_put of the same messages to a server that decodes and discards,
#       same loopback, no TLS, same HTTP/2 windows;
#   (c) the same rows as one CSV file in an HTTP POST to a minimal receiver that writes it to
#       disk, fsyncs it and parses every record;
# rows/s and MB/s of each, the ratios a/b and a/c, the commit latency of a small publication
# (p50, p99) and the coordinator's peak RSS.
#
# Usage: bench/ingest.sh [rows, default 10000000]     (BENCH_NO_BUILD=1 skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-10000000}"
work="bench/work/ingest"
mkdir -p "$work"
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  cargo build --release --bins --examples >&2
fi
bin="${CARGO_TARGET_DIR:-target}/release"
csv="$work/observations-${rows}.csv"
if [ ! -s "$csv" ]; then
  echo "generating $csv" >&2
  python3 bench/agent_memory_data.py 100 "$csv" "$rows"
fi
cat >"$work/bench.manifest.toml" <<TOML
agency = "sms"
dataset = "ingest-benchmark"
title = "Ingest benchmark data (synthetic)"
indicators = ["10.7.p2"]
periodicity = "A"
[reference_period]
start = "2021"
end = "2023"
TOML
rm -rf "$work/pki" "$work/store"
"$bin/sdgx-coordinator" ca init --dir "$work/pki" >/dev/null
"$bin/sdgx-coordinator" ca issue-agent --dir "$work/pki" --agency sms >/dev/null
cat >"$work/coordinator.toml" <<TOML
# Benchmark coordinator: mutual TLS for publications, as in production; one agency.
national_framework = "$PWD/examples/armenia/framework.toml"
national_codelists = "$PWD/examples/armenia/codelists.csv"
national_area = "AM"
[security.tls]
cert = "$PWD/$work/pki/server.pem"
key = "$PWD/$work/pki/server.key"
client_ca = "$PWD/$work/pki/ca.pem"
[security.signing]
cert = "$PWD/$work/pki/signing.pem"
key = "$PWD/$work/pki/signing.key"
[[security.agency]]
id = "sms"
name = "State Migration Service"
datasets = ["ingest-benchmark", "small-commits"]
TOML
exec 3< <(exec "$bin/sdgx-coordinator" serve --config "$work/coordinator.toml" --data-dir "$work/store" \
  --flight-addr 127.0.0.1:0 --analyst-flight-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 2>"$work/coordinator.log")
coordinator=$!
stop() { kill -INT "$coordinator" 2>/dev/null || true; wait "$coordinator" 2>/dev/null || true; }
trap stop EXIT
read -r ready <&3
flight=$(sed -E 's/.*"flight":"([^"]+)".*/\1/' <<<"$ready")
echo "coordinator pid $coordinator, agents' Flight port ${flight##*:} (mutual TLS)" >&2
"$bin/examples/ingest_bench" \
  --csv "$csv" --manifest "$work/bench.manifest.toml" --small-dataset small-commits \
  --coordinator "https://localhost:${flight##*:}" --pki "$work/pki" --coordinator-pid "$coordinator" \
  --framework examples/armenia/framework.toml --codelists examples/armenia/codelists.csv
