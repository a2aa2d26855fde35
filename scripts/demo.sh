#!/usr/bin/env bash
# Runs the synthetic example federation on embedded defaults, secured as in production:
#   builds the binaries (release); creates the national CA, the coordinator's certificate and
#   one client certificate per agency (once, in examples/federation/pki/) and a reader token;
#   starts a coordinator with a fresh local store (mutual TLS on Flight, tokens on HTTP); runs
#   the seven example ministry agents (each validates its datasets, then publishes them); and
#   prints the national figures and where to find them.
# With --system, three levels (docs/upstream.md; README, "A system of systems"): a province
#   (Yerevan, examples/system/province.toml) publishes its approved view to the nation (the
#   federation above, with the province as its agency am-er), which publishes its approved view
#   to a region (examples/system/region.toml) as agency am; each level has its own CA, store and
#   approver, with mutual TLS between levels. Prints the regional figures, the national and
#   provincial headlines, each level's upstream queue and audit.
# Needs only the Rust toolchain. Usage: scripts/demo.sh [--system]
#   SDGX_DEMO_KEEP=1        keeps serving
#   SDGX_DEMO_PROFILE=debug builds and runs the debug binaries (quicker to build than release)
#   SDGX_BIN_DIR=<dir>      runs the sdgx-coordinator and sdgx-agent in <dir>, building nothing
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
agencies="armstat sms moes diaspora labour cba moh"
config=examples/federation/coordinator.toml
pki=examples/federation/pki
ex=examples/system
case "${1:-}" in
  "") system=0 ;;
  --system) system=1 ;;
  *) echo "usage: scripts/demo.sh [--system]" >&2; exit 2 ;;
esac

# The demo's own settings, out of the environment the binaries see (they warn of SDGX_
# variables that name no setting of theirs).
keep=${SDGX_DEMO_KEEP:-0} profile=${SDGX_DEMO_PROFILE:-release} bin=${SDGX_BIN_DIR:-}
unset SDGX_DEMO_KEEP SDGX_DEMO_PROFILE SDGX_BIN_DIR
if [ -n "$bin" ]; then
  echo "== using the binaries in $bin"
elif [ "$profile" = debug ]; then
  echo "== building sdgx (debug) ..."
  cargo build --bins --quiet
  bin="${CARGO_TARGET_DIR:-$root/target}/debug"
else
  echo "== building sdgx (release) ..."
  cargo build --release --bins --quiet
  bin="${CARGO_TARGET_DIR:-$root/target}/release"
fi

# start <level> <config> <data dir> [VAR=value...]: starts a coordinator (with those environment
# variables) on free ports over a fresh store in <data dir>; sets <level>_pid, <level>_flight,
# <level>_http and <level>_analysts. It prints one JSON line with its bound addresses once it
# listens.
pids=""
start() {
  local level=$1 conf=$2 dir=$3 fd ready pid
  shift 3
  mkdir -p "$dir"
  exec {fd}< <(exec env "$@" "$bin/sdgx-coordinator" serve --config "$conf" \
    --data-dir "$dir" --flight-addr 127.0.0.1:0 --analyst-flight-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 2>"$dir/coordinator.log")
  pid=$!
  pids="$pids $pid"
  if ! read -r ready <&"$fd"; then
    echo "the coordinator did not start; see $dir/coordinator.log" >&2
    cat "$dir/coordinator.log" >&2
    exit 1
  fi
  printf -v "${level}_pid" %s "$pid"
  printf -v "${level}_flight" %s "$(sed -E 's/.*"flight":"([^"]+)".*/\1/' <<<"$ready")"
  printf -v "${level}_http" %s "$(sed -E 's/.*"http":"([^"]+)".*/\1/' <<<"$ready")"
  printf -v "${level}_analysts" %s "$(sed -E 's/.*"analyst_flight":"([^"]+)".*/\1/' <<<"$ready")"
}
trap 'kill $pids 2>/dev/null || true' EXIT
# Creates the CA of a level in <dir> and a client certificate for each <agency>, once.
ca() {
  local dir=$1
  shift
  [ -f "$dir/ca.key" ] || "$bin/sdgx-coordinator" ca init --dir "$dir" | sed 's/^/   /'
  # A CA made before coordinators signed their log gets the signing certificate.
  [ -f "$dir/signing.key" ] || "$bin/sdgx-coordinator" ca issue-signer --dir "$dir" | sed 's/^/   /'
  for agency in "$@"; do
    [ -f "$dir/agents/$agency.key" ] || "$bin/sdgx-coordinator" ca issue-agent --dir "$dir" --agency "$agency" | sed 's/^/   /'
  done
}
# A new token of <role> from the token file of <config>, named after the run.
new_token() {
  "$bin/sdgx-coordinator" token create --config "$1" --role "$2" --name "$3-$(date +%Y%m%d-%H%M%S)-$$" 2>/dev/null
}

started=$EPOCHREALTIME
if [ ! -f "$pki/ca.key" ]; then
  echo "== creating the national CA and certificates in $pki"
  "$bin/sdgx-coordinator" ca init --dir "$pki" | sed 's/^/   /'
  for agency in $agencies; do
    "$bin/sdgx-coordinator" ca issue-agent --dir "$pki" --agency "$agency" | sed 's/^/   /'
  done
fi
# A CA made before the coordinator signed its log gets the signing certificate.
[ -f "$pki/signing.key" ] || "$bin/sdgx-coordinator" ca issue-signer --dir "$pki" | sed 's/^/   /'
mkdir -p "$pki/tokens"
for agency in $agencies; do
  # Each agent's API token (role agency: it reads only its own reporting calendar).
  if [ ! -s "$pki/tokens/$agency.token" ]; then
    "$bin/sdgx-coordinator" token create --config "$config" --role agency --name "$agency" 2>/dev/null >"$pki/tokens/$agency.token"
  fi
done
token=$(new_token "$config" reader demo)
# The statistical office's approver (it reviews and approves; it may not administer).
approver=$(new_token "$config" approver nso-demo)

data="$root/data/demo-$(date +%Y%m%d-%H%M%S)"
nation_env=()
if [ "$system" = 1 ]; then
  base=$data
  data=$base/nation
  echo "== level 3, the region ($ex/region.toml, global framework): its CA, a certificate for Armenia (agency am)"
  ca "$ex/pki/region" am
  region_token=$(new_token "$ex/region.toml" reader demo)
  region_approver=$(new_token "$ex/region.toml" approver region-demo)
  start region "$ex/region.toml" "$base/region"
  echo "   region: fresh store in $base/region; Flight (mutual TLS) https://localhost:${region_flight##*:}   HTTP http://$region_http"
  # The nation's [upstream], from the environment (SDGX_UPSTREAM__*; paths absolute, as relative
  # ones would be read against the directory of coordinator.toml).
  nation_env=(
    SDGX_UPSTREAM__COORDINATOR="https://localhost:${region_flight##*:}"
    SDGX_UPSTREAM__AGENCY=am
    SDGX_UPSTREAM__TLS__CA="$root/$ex/pki/region/ca.pem"
    SDGX_UPSTREAM__TLS__CERT="$root/$ex/pki/region/agents/am.pem"
    SDGX_UPSTREAM__TLS__KEY="$root/$ex/pki/region/agents/am.key"
    SDGX_UPSTREAM__TLS__DOMAIN=localhost
  )
  echo "== level 2, the nation ($config): [upstream] to the region as agency am (SDGX_UPSTREAM__*), a certificate for the province (agency am-er)"
  ca "$pki" am-er
  nation_admin=$(new_token "$config" admin demo-admin)
fi
echo "== coordinator: fresh store in $data"
start nation "$config" "$data" "${nation_env[@]}"
coordinator=$nation_pid flight=$nation_flight http=$nation_http analysts=$nation_analysts
echo "   Flight (mutual TLS) https://localhost:${flight##*:}   HTTP http://$http"

if [ "$system" = 1 ]; then
  echo "== level 1, the province of Yerevan ($ex/province.toml): its CA, a certificate for the city's agency yerevan"
  ca "$ex/pki/province" yerevan
  province_approver=$(new_token "$ex/province.toml" approver yerevan-demo)
  start province "$ex/province.toml" "$base/province" SDGX_UPSTREAM__COORDINATOR="https://localhost:${flight##*:}"
  echo "   province: fresh store in $base/province; Flight (mutual TLS) https://localhost:${province_flight##*:}   HTTP http://$province_http"
  echo "   [upstream] to the nation (https://localhost:${flight##*:}) as agency am-er"
  echo "== agent yerevan publishes to the province"
  SDGX_OUTBOX="$base/province/outbox-yerevan" SDGX_COORDINATOR="https://localhost:${province_flight##*:}" "$bin/sdgx-agent" publish \
    --config "$ex/yerevan/agent.toml" | sed 's/^/   /'
  echo "== the province's approver signs off; its official view goes up to the nation as am-er"
  python3 scripts/system-demo.py approve-all "$province_http" "$province_approver" | sed 's/^/   /'
  python3 scripts/system-demo.py wait "$http" "$token" 60 am-er/yerevan--lfs | sed 's/^/   at the nation: /'
fi

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

if [ "$system" = 1 ]; then
  echo "== the nation's official view goes up to the region as agency am; waiting for it there"
  arrived=0
  python3 scripts/system-demo.py wait "$region_http" "$region_token" 60 am/am-er--yerevan--lfs am/armstat--ilcs-poverty \
    am/sms--asylum-decisions am/moes--scholarships-and-early-learning am/labour--labour-market am/cba--remittances am/moh--health \
    | sed 's/^/   at the region: /' || arrived=$?
  # Why the nation relayed no more (GET /api/v1/admin/upstream, its last look's problems).
  python3 scripts/system-demo.py not-relayed "$http" "$nation_admin" | sed 's/^/   at the nation: /'
  if [ "$arrived" != 0 ]; then
    env "${nation_env[@]}" "$bin/sdgx-coordinator" upstream status --config "$config" --data-dir "$data" | sed 's/^/   /' || true
    echo "the region did not receive everything; the nation's reasons are above (its log: $data/coordinator.log)" >&2
    exit 1
  fi
  cat <<EOF2
   Indicators the region's (global) framework does not define, the national proxies (*.p*),
   stay national (docs/upstream.md): their rows are counted as left out in the nation's
   upstream queue below, and a dataset with nothing else is not relayed (above). The codes that
   go up are in the contract's codelists (MS_*, and the NMS_* extensions, which here occur only
   in proxies' rows) or in examples/armenia/codelists.csv, the region's codelists: the
   provinces' areas (AM-ER) and the national breakdowns. Without it the region would refuse
   the province's AM-ER rows (the nation's upstream queue would name row, column and value).
EOF2
  echo "== the region's approver signs off everything that arrived"
  python3 scripts/system-demo.py approve-all "$region_http" "$region_approver" | sed 's/^/   /'
  echo
  echo "== regional figures ($ex/region.toml; official: approved by the region)"
  "$bin/sdgx-coordinator" figures --config "$ex/region.toml" --data-dir "$base/region"
  echo "== national headline (official)"
  "$bin/sdgx-coordinator" figures --config "$config" --data-dir "$data" | sed -n '1,3s/^/   /p'
  echo "== provincial headline (official)"
  "$bin/sdgx-coordinator" figures --config "$ex/province.toml" --data-dir "$base/province" | sed -n '1,3s/^/   /p'
  echo "== the province's upstream queue (sdgx-coordinator upstream status)"
  SDGX_UPSTREAM__COORDINATOR="https://localhost:${flight##*:}" "$bin/sdgx-coordinator" upstream status \
    --config "$ex/province.toml" --data-dir "$base/province" | sed 's/^/   /'
  echo "== the nation's upstream queue (rows left out: national proxies)"
  env "${nation_env[@]}" "$bin/sdgx-coordinator" upstream status --config "$config" --data-dir "$data" | sed 's/^/   /'
  echo "== audit verify"
  "$bin/sdgx-coordinator" audit verify --config "$ex/province.toml" --data-dir "$base/province" | sed 's/^/   province: /'
  "$bin/sdgx-coordinator" audit verify --config "$config" --data-dir "$data" | sed 's/^/   nation:   /'
  "$bin/sdgx-coordinator" audit verify --config "$ex/region.toml" --data-dir "$base/region" | sed 's/^/   region:   /'
  elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  cat <<EOF2
== done in ${elapsed}s (after the build). Synthetic data: invented numbers, not official statistics.
   stores:        $base/{province,nation,region}/store   (logs: coordinator.log beside each)
   province HTTP  http://$province_http   approver token $province_approver
   nation HTTP    http://$http   reader token $token   approver token $approver
   region HTTP    http://$region_http   reader token $region_token   approver token $region_approver
   certificates:  $ex/pki/province/, $pki/, $ex/pki/region/ (one CA per level)
   the region's figures as JSON: curl -H "Authorization: Bearer $region_token" http://$region_http/api/v1/figures/migration-disaggregation-share
EOF2
  if [ "$keep" = 1 ] || [ -t 0 ]; then
    echo "   the coordinators keep serving; press Ctrl-C to stop."
    wait "$coordinator" || true
  fi
  exit 0
fi

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
if [ "$keep" = 1 ] || [ -t 0 ]; then
  echo "   the coordinator keeps serving; press Ctrl-C to stop."
  wait "$coordinator" || true
fi
