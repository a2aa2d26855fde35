#!/usr/bin/env bash
# Runs the synthetic example federation on embedded defaults:
#   builds the binaries (release), starts a coordinator with a fresh local store, runs the seven
#   example ministry agents (each validates its datasets, then publishes them over Arrow Flight),
#   and prints the national figures and where to find them.
# Needs only the Rust toolchain. Usage: scripts/demo.sh   (SDGX_DEMO_KEEP=1 keeps serving)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

echo "== building sdgx (release) ..."
cargo build --release --bins --quiet
bin="${CARGO_TARGET_DIR:-$root/target}/release"

started=$EPOCHREALTIME
data="$root/data/demo-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$data"
echo "== coordinator: fresh store in $data"
# The coordinator prints one JSON line with its bound addresses once it listens.
exec 3< <(exec "$bin/sdgx-coordinator" serve --config examples/federation/coordinator.toml \
  --data-dir "$data" --flight-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 2>"$data/coordinator.log")
coordinator=$!
trap 'kill $coordinator 2>/dev/null || true' EXIT
if ! read -r ready <&3; then
  echo "the coordinator did not start; see $data/coordinator.log" >&2
  cat "$data/coordinator.log" >&2
  exit 1
fi
flight=$(sed -E 's/.*"flight":"([^"]+)".*/\1/' <<<"$ready")
http=$(sed -E 's/.*"http":"([^"]+)".*/\1/' <<<"$ready")
echo "   Flight grpc://$flight   HTTP http://$http"

for agency in armstat sms moes diaspora labour cba moh; do
  echo "== agent $agency"
  SDGX_COORDINATOR="http://$flight" "$bin/sdgx-agent" publish --config "examples/federation/$agency/agent.toml" | sed 's/^/   /'
done

echo
"$bin/sdgx-coordinator" figures --config examples/federation/coordinator.toml --data-dir "$data"
elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
cat <<EOF2
== done in ${elapsed}s (after the build). Synthetic data: invented numbers, not official statistics.
   store (Delta Lake):   $data/store
   coordinator log:      $data/coordinator.log
   figures as JSON:      http://$http/api/v1/figures/migration-disaggregation-share
                         http://$http/api/v1/figures/reporting-status  (?from=YEAR&to=YEAR&as_of=VERSION)
   publications log:     http://$http/api/v1/publications
   again, offline:       $bin/sdgx-coordinator figures --config examples/federation/coordinator.toml --data-dir $data
EOF2
if [ "${SDGX_DEMO_KEEP:-0}" = 1 ] || [ -t 0 ]; then
  echo "   the coordinator keeps serving; press Ctrl-C to stop."
  wait "$coordinator" || true
fi
