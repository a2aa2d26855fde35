#!/usr/bin/env bash
# Bounded memory of the agent (issue 6). Not a test. Publishes one contract CSV of about 2 GB
# (generated, seeded, cached in bench/work/agent-memory/) from the release agent to a release
# coordinator (plaintext, fresh store) and reports the agent's peak RSS (GNU time's maximum
# resident set size), the throughput of both passes (validation into the outbox, then the
# upload), and the coordinator's peak RSS.
#
# Usage: bench/agent-memory.sh [size in GB, default 2]     (BENCH_NO_BUILD=1 skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
gb="${1:-2}"
work="bench/work/agent-memory"
mkdir -p "$work"
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  cargo build --release --bins >&2
fi
bin="${CARGO_TARGET_DIR:-target}/release"
csv="$work/observations-${gb}gb.csv"
if [ ! -s "$csv" ]; then
  echo "generating $csv" >&2
  python3 bench/agent_memory_data.py "$gb" "$csv"
fi
rows=$(($(wc -l <"$csv") - 1))
bytes=$(stat -c %s "$csv")
cat >"$work/bench.manifest.toml" <<TOML
agency = "sms"
dataset = "memory-benchmark"
title = "Benchmark data (synthetic)"
indicators = ["10.7.p2"]
periodicity = "A"
[reference_period]
start = "2021"
end = "2023"
TOML
rm -rf "$work/store" "$work/outbox"
cat >"$work/coordinator.toml" <<TOML
# Benchmark coordinator: plaintext publications (development only), one agency.
national_framework = "$PWD/examples/armenia/framework.toml"
national_codelists = "$PWD/examples/armenia/codelists.csv"
national_area = "AM"
[security]
insecure_plaintext_publish = true
[[security.agency]]
id = "sms"
name = "State Migration Service"
datasets = ["memory-benchmark"]
TOML
cat >"$work/agent.toml" <<TOML
agency = "sms"
coordinator = "http://127.0.0.1:1"
national_framework = "$PWD/examples/armenia/framework.toml"
national_codelists = "$PWD/examples/armenia/codelists.csv"
outbox = "$PWD/$work/outbox"
[[dataset]]
manifest = "$PWD/$work/bench.manifest.toml"
source = "$PWD/$csv"
TOML
exec 3< <(exec /usr/bin/time -f "%M" -o "$work/coordinator.rss" "$bin/sdgx-coordinator" serve \
  --config "$work/coordinator.toml" --data-dir "$work/store" \
  --flight-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 2>"$work/coordinator.log")
coordinator=$!
# $coordinator is GNU time, which ignores SIGINT while it waits: signal the coordinator itself.
stop() { pkill -INT -P "$coordinator" 2>/dev/null || true; wait "$coordinator" 2>/dev/null || true; }
trap stop EXIT
read -r ready <&3
flight=$(sed -E 's/.*"flight":"([^"]+)".*/\1/' <<<"$ready")
start=$EPOCHREALTIME
SDGX_COORDINATOR="http://$flight" \
  /usr/bin/time -f "%M %e" -o "$work/agent.rss" "$bin/sdgx-agent" publish --config "$work/agent.toml" >"$work/agent.out" 2>"$work/agent.log"
end=$EPOCHREALTIME
stop
read -r agent_kib agent_secs <"$work/agent.rss"
coord_kib=$(tail -1 "$work/coordinator.rss")
grep -q "published: publication" "$work/agent.out" || { cat "$work/agent.out" "$work/agent.log" >&2; exit 1; }
awk -v rows="$rows" -v bytes="$bytes" -v a="$agent_kib" -v c="$coord_kib" -v s="$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" 'BEGIN {
  printf "CSV: %.2f GB, %d rows\n", bytes / 1e9, rows;
  printf "agent publish (validate into the outbox, then upload): %.1f s, %.2f M rows/s, %.0f MB/s of CSV\n", s, rows / s / 1e6, bytes / s / 1e6;
  printf "agent peak RSS: %.0f MiB (budget 300 MB: %s); CSV size / agent RSS = %.1fx\n", a / 1024, (a * 1024 < 300e6 ? "within" : "OVER"), bytes / (a * 1024);
  printf "coordinator peak RSS: %.0f MiB\n", c / 1024 }'
