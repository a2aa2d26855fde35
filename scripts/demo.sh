#!/usr/bin/env bash
# Runs the synthetic example federation on embedded defaults, secured as in production:
#   builds the binaries (release); creates the national CA, the coordinator's certificate and
#   one client certificate per agency (once, in examples/federation/pki/) and a reader token;
#   starts a coordinator with a fresh local store (mutual TLS on Flight, tokens on HTTP); runs
#   the seven example ministry agents (each validates its datasets, then publishes them); and
#   prints the national figures and where to find them.
# Needs only the Rust toolchain. Usage: scripts/demo.sh   (SDGX_DEMO_KEEP=1 keeps serving)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
agencies="armstat sms moes diaspora labour cba moh"
config=examples/federation/coordinator.toml
pki=examples/federation/pki

echo "== building sdgx (release) ..."
cargo build --release --bins --quiet
bin="${CARGO_TARGET_DIR:-$root/target}/release"

started=$EPOCHREALTIME
if [ ! -f "$pki/ca.key" ]; then
  echo "== creating the national CA and certificates in $pki"
  "$bin/sdgx-coordinator" ca init --dir "$pki" | sed 's/^/   /'
  for agency in $agencies; do
    "$bin/sdgx-coordinator" ca issue-agent --dir "$pki" --agency "$agency" | sed 's/^/   /'
  done
fi
mkdir -p "$pki/tokens"
for agency in $agencies; do
  # Each agent's API token (role agency: it reads only its own reporting calendar).
  if [ ! -s "$pki/tokens/$agency.token" ]; then
    "$bin/sdgx-coordinator" token create --config "$config" --role agency --name "$agency" 2>/dev/null >"$pki/tokens/$agency.token"
  fi
done
token=$("$bin/sdgx-coordinator" token create --config "$config" --role reader --name "demo-$(date +%Y%m%d-%H%M%S)-$$" 2>/dev/null)
# The statistical office's approver (it reviews and approves; it may not administer).
approver=$("$bin/sdgx-coordinator" token create --config "$config" --role approver --name "nso-demo-$(date +%Y%m%d-%H%M%S)-$$" 2>/dev/null)

data="$root/data/demo-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$data"
echo "== coordinator: fresh store in $data"
# The coordinator prints one JSON line with its bound addresses once it listens.
exec 3< <(exec "$bin/sdgx-coordinator" serve --config "$config" \
  --data-dir "$data" --flight-addr 127.0.0.1:0 --analyst-flight-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 2>"$data/coordinator.log")
coordinator=$!
trap 'kill $coordinator 2>/dev/null || true' EXIT
if ! read -r ready <&3; then
  echo "the coordinator did not start; see $data/coordinator.log" >&2
  cat "$data/coordinator.log" >&2
  exit 1
fi
flight=$(sed -E 's/.*"flight":"([^"]+)".*/\1/' <<<"$ready")
http=$(sed -E 's/.*"http":"([^"]+)".*/\1/' <<<"$ready")
analysts=$(sed -E 's/.*"analyst_flight":"([^"]+)".*/\1/' <<<"$ready")
echo "   Flight (mutual TLS) https://localhost:${flight##*:}   HTTP http://$http"

for agency in $agencies; do
  echo "== agent $agency"
  # Each agent's durable outbox; in a deployment it lives on the ministry's server.
  SDGX_OUTBOX="$data/outbox-$agency" SDGX_COORDINATOR="https://localhost:${flight##*:}" "$bin/sdgx-agent" publish \
    --config "examples/federation/$agency/agent.toml" | sed 's/^/   /'
done

echo "== agent armstat, computing 10.7.p1 from survey microdata (dry run, then publication)"
SDGX_OUTBOX="$data/outbox-armstat" "$bin/sdgx-agent" validate \
  --config examples/federation/armstat/agent-microdata.toml | sed 's/^/   /'
SDGX_OUTBOX="$data/outbox-armstat" SDGX_COORDINATOR="https://localhost:${flight##*:}" "$bin/sdgx-agent" publish \
  --config examples/federation/armstat/agent-microdata.toml | tail -1 | sed 's/^/   /'

echo "== the statistical office's sign-off (approver token, HTTP): all but the newest publication approved"
python3 scripts/signoff-demo.py "$http" "$approver" | sed 's/^/   /'

echo
echo "== official figures (approved and released publications)"
"$bin/sdgx-coordinator" figures --config "$config" --data-dir "$data"
echo "== provisional headline (every accepted publication, the pending one included)"
"$bin/sdgx-coordinator" figures --view provisional --config "$config" --data-dir "$data" | sed -n '1,3s/^/   /p'
"$bin/sdgx-coordinator" audit verify --config "$config" --data-dir "$data" | sed 's/^/== /'
echo "== what the health ministry still owes (sdgx-agent status, over HTTP with its agency token)"
SDGX_OUTBOX="$data/outbox-moh" SDGX_COORDINATOR_HTTP="http://$http" "$bin/sdgx-agent" status --config examples/federation/moh/agent.toml | sed 's/^/   /'
elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
cat <<EOF2
== done in ${elapsed}s (after the build). Synthetic data: invented numbers, not official statistics.
   store (Delta Lake):   $data/store
   coordinator log:      $data/coordinator.log
   certificates, tokens: $pki/ (tokens are stored only as hashes)
   a reader token:       $token
   an approver token:    $approver   (the review queue: GET /api/v1/review, /api/v1/review/<publication>)
   figures as JSON:      curl -H "Authorization: Bearer $token" http://$http/api/v1/figures/migration-disaggregation-share
                         .../figures/reporting-status?from=2022&to=2023  .../figures/disaggregation-status  .../figures/coverage-matrix
                         .../figures/migrant-gap  .../figures/agency-completeness?as_of=3  .../api/v1/publications
                         (the official view by default; ?view=provisional for every accepted publication)
   Flight SQL (ADBC, DBeaver, pyarrow): grpc+tls://localhost:${analysts##*:} user any, password the token, CA $pki/ca.pem
                         (tables and views: docs/analysts.md; header x-sdgx-as-of reads an earlier store version)
   read-only SQL:        curl -H "Authorization: Bearer $token" -d '{"sql":"SELECT * FROM migration_disaggregation_by_goal"}' -H 'Content-Type: application/json' http://$http/api/v1/query
   again, offline:       $bin/sdgx-coordinator figures --config $config --data-dir $data
EOF2
if [ "${SDGX_DEMO_KEEP:-0}" = 1 ] || [ -t 0 ]; then
  echo "   the coordinator keeps serving; press Ctrl-C to stop."
  wait "$coordinator" || true
fi
