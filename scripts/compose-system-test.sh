#!/usr/bin/env bash
# The three-level compose fault test (docker/compose.system.yml; docs/upstream.md): two national
# federations (Armenia: its coordinator and three agents; Georgia: its coordinator and one
# agent) publish their official views to a regional coordinator, whose store is on an
# S3-compatible server (moto, on the host) and is served by two read replicas too. Each level
# has its own CA; every link is mutual TLS. Checked from the host over the HTTP APIs:
#   0. the area rule: Georgia's certificate publishing Armenian rows to the region is refused
#      (ref_area_not_allowed), logged by the region, and stores nothing;
#   1. Armenia's coordinator killed (SIGKILL) while it delivers its newly approved datasets
#      upstream: after its restart each arrives at the region exactly once;
#   2. the network between Georgia and the region cut while Georgia releases a new version,
#      then restored: the version waits in Georgia's upstream queue and arrives exactly once;
#   3. everything restarted: nothing is published again and the figures are identical.
# Afterwards every official national publication is in the regional store exactly once (its
# provenance names it), the region's figures by area equal the same figures computed over each
# national store, the replicas serve the writer's version and figures, and `audit verify`
# passes at the region and at both nations. Prints the fault table and the regional figures.
#
# Like scripts/compose-test.sh (whose helpers it shares, scripts/compose-lib.sh) it builds no
# Rust in Docker and needs no registry. Needs Docker, docker-compose (v1.29+) or the compose
# plugin, and the project's Python venv (scripts/venv.sh; moto, for the S3-compatible server).
# Usage: scripts/compose-system-test.sh     (SDGX_COMPOSE_KEEP=1 keeps the work directory)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

project="sdgxst$(date +%s)$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/sdgx-system.XXXXXX")
dc() { "${compose[@]}" -p "$project" -f docker/compose.system.yml "$@"; }
source scripts/compose-lib.sh
# Set once the S3-compatible server runs (the compose file needs them even to tear down).
export SDGX_S3_BUCKET=sdgx-region SDGX_S3_ENDPOINT=http://s3:0
s3_pid=""
stop_s3() { [ -z "$s3_pid" ] || kill "$s3_pid" 2>/dev/null || true; }
trap 'teardown; rc=$?; stop_s3; exit $rc' EXIT
trap 'exit 130' INT TERM

services=(region region-replica-1 region-replica-2 am-coordinator ge-coordinator agent-armstat agent-sms agent-labour agent-geostat)
nations=(am ge)
indicators="$root/schemas/data/indicators.csv" # the region's (global) framework
config_of() {
  case $1 in
    region | region-replica-*) echo /etc/sdgx/examples/system/region.toml ;;
    am-coordinator) echo /etc/sdgx/examples/federation/coordinator.toml ;;
    ge-coordinator) echo /etc/sdgx/examples/system/georgia.toml ;;
  esac
}
# A service's address on one of its networks (the host reaches containers directly).
ip_of() { docker inspect --format "{{with index .NetworkSettings.Networks \"${project}_$2\"}}{{.IPAddress}}{{end}}" "$(cid "$1")"; }
endpoints() {
  region_http="http://$(ip_of region region):8080"
  replica1_http="http://$(ip_of region-replica-1 region):8080"
  replica2_http="http://$(ip_of region-replica-2 region):8080"
  am_http="http://$(ip_of am-coordinator am):8080"
  ge_http="http://$(ip_of ge-coordinator ge):8080"
}
http_of() { local v="${1}_http"; echo "${!v}"; }
at_version() { [ "$(version_of "$1")" = "$2" ]; }
version_of() { curl -fsS "$(http_of "$1")/health" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["store_version"])'; }
log_of() { check log "$(http_of "$1")" "$work/$1.reader" >"$work/log-$1.json"; }
approve() { check approve "$(http_of "$1")" "$work/$1.approver"; }
# Whether each official national publication of NATION is at the region exactly once.
relayed() {
  log_of "$1" && log_of region && check relayed "$1" "$work/log-$1.json" "$work/log-region.json" "$indicators" >"$work/relayed-$1.json"
}
# Whether NATION's log holds N publications of DATASET.
published() {
  log_of "$1" && json "$work/log-$1.json" "len([p for p in d['publications'] if p['agency'] + '/' + p['dataset'] == '$2']) >= $3" >/dev/null
}
upstream_status() { docker exec "$(cid "$1-coordinator")" sdgx-coordinator --config "$(config_of "$1-coordinator")" upstream status --json; }
audit() { docker exec "$(cid "$1")" sdgx-coordinator --config "$(config_of "$1")" audit verify; }

say "compose system test: project $project, with ${compose[*]}, work directory $work"

# The S3-compatible server, on the Docker bridge's gateway (the containers' host-gateway, `s3`).
# (Docker's host-gateway is the default bridge's address, docker0's.)
gateway=$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
[ -n "$gateway" ] || gateway=$(ip -4 -o addr show docker0 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
[ -n "$gateway" ] || fail "no address of the Docker bridge (docker0) found"
coproc S3 { exec "$python" tests/py/s3_server.py "$SDGX_S3_BUCKET" "$gateway" 2>"$work/s3.log"; }
s3_pid=$S3_PID
read -r -t 60 s3_ready <&"${S3[0]}" || fail "the S3-compatible server did not start"
s3_port=$(sed -E 's/.*:([0-9]+)".*/\1/' <<<"$s3_ready")
export SDGX_S3_ENDPOINT="http://s3:$s3_port"
say "S3-compatible server (moto) on $gateway:$s3_port, bucket $SDGX_S3_BUCKET"

stage
# The impostor's agent configuration (Georgia's region certificate, Armenian rows).
cp -r tests/fixtures/impostor "$SDGX_TEST_EXAMPLES/impostor"
chmod -R a+rX "$SDGX_TEST_EXAMPLES/impostor"

say "compose up: three CAs, the region and its two replicas, two nations and four agents"
dc up -d >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "compose up"; }
wait_for "every service healthy" 300 healthy "${services[@]}"
for p in pki-region pki-am pki-ge; do
  [ "$(docker inspect --format '{{.State.ExitCode}}' "$(cid "$p")")" = 0 ] || fail "the $p service failed"
done
# Each level's reader and approver tokens, from its CA's vault (private files, never printed).
for level in region am ge; do
  ( umask 077
    dc run --rm --no-deps -T "pki-$level" cat /ca/tokens/analyst.token >"$work/$level.reader" 2>/dev/null
    dc run --rm --no-deps -T "pki-$level" cat /ca/tokens/approver.token >"$work/$level.approver" 2>/dev/null )
done
ca_sums=$(for level in region am ge; do dc run --rm --no-deps -T "pki-$level" cat /ca/ca.pem 2>/dev/null | sha256sum; done)
[ "$(sort -u <<<"$ca_sums" | wc -l)" = 3 ] || fail "the three levels do not have three different CAs"
endpoints
say "region $region_http (replicas $replica1_http, $replica2_http); Armenia $am_http; Georgia $ge_http"
phase "compose up, all healthy"

say "the agents publish at start; Georgia's approver signs off, and its official view goes up"
am_datasets=(armstat/ilcs-poverty armstat/ilcs-returned-migrants sms/asylum-decisions labour/labour-market)
for d in "${am_datasets[@]}"; do wait_for "$d at Armenia" 180 published am "$d" 1; done
wait_for "geostat/lfs at Georgia" 180 published ge geostat/lfs 1
approve ge >"$work/approved-ge-1.json"
wait_for "Georgia's official view at the region" 120 relayed ge
phase "nations published, Georgia relayed"

# ---- The area rule: Georgia's certificate may not publish Armenia's rows.
say "area rule: Georgia's region certificate publishes Armenian rows to the region"
v_region=$(version_of region)
set +e
docker exec "$(cid ge-coordinator)" sdgx-agent publish --config /etc/sdgx/examples/impostor/agent.toml >"$work/impostor.txt" 2>&1
impostor_rc=$?
set -e
[ "$impostor_rc" != 0 ] || fail "area rule: the impostor's publication was accepted: $(cat "$work/impostor.txt")"
grep -q ref_area_not_allowed "$work/impostor.txt" || fail "area rule: refused without naming the rule: $(cat "$work/impostor.txt")"
[ "$(version_of region)" = "$v_region" ] || fail "area rule: the region's store changed"
refusals() { dc logs --no-color region 2>/dev/null | grep -c 'ref_area_not_allowed' || true; }
logged() { [ "$(refusals)" -gt 0 ]; }
wait_for "the region to log the refusal" 30 logged
f0="ge's certificate, ref_area AM: refused (exit $impostor_rc, rule ref_area_not_allowed, $(refusals) line(s) in the region's log); region store version $v_region unchanged"
say "   $f0"
phase "area rule"

# ---- Fault 1: Armenia's coordinator killed during upstream delivery.
say "fault 1: Armenia's approver signs off; SIGKILL Armenia's coordinator once the first dataset reaches the region"
v0=$(version_of region)
approve am >"$work/approved-am.json"
approved_am=$(json "$work/approved-am.json" "len(d['approved'])")
deadline=$((SECONDS + 120))
until [ "$(version_of region)" -gt "$v0" ]; do
  [ $SECONDS -lt $deadline ] || fail "fault 1: nothing of Armenia reached the region in 120 s"
  sleep 0.05
done
docker kill --signal KILL "$(cid am-coordinator)" >/dev/null
killed_at=$EPOCHREALTIME
log_of region
at_kill=$(json "$work/log-region.json" "len([p for p in d['publications'] if p['agency'] == 'am'])")
dc start am-coordinator >/dev/null 2>&1
wait_for "Armenia's coordinator healthy again" 120 healthy am-coordinator
endpoints
wait_for "every official Armenian publication at the region, once" 180 relayed am
restored_in=$(since "$killed_at")
expected_am=$(json "$work/relayed-am.json" "d['expected']")
upstream_status am >"$work/upstream-am-1.json"
json "$work/upstream-am-1.json" "d['pending'] == 0 and d['failed'] == 0" >/dev/null || fail "fault 1: Armenia's upstream queue: $(cat "$work/upstream-am-1.json")"
audit am-coordinator >"$work/audit-am-1.txt" 2>&1 || fail "fault 1: audit verify at Armenia: $(cat "$work/audit-am-1.txt")"
audit region >"$work/audit-region-1.txt" 2>&1 || fail "fault 1: audit verify at the region: $(cat "$work/audit-region-1.txt")"
f1="$approved_am approved; killed with $at_kill of $expected_am relayable at the region; all $expected_am there exactly once ${restored_in}s after the kill; queue empty; audit ok at Armenia and the region"
say "   $f1"
phase "fault 1 (kill -9 a nation)"

# ---- Fault 2: the network between Georgia and the region cut, then restored.
say "fault 2: Georgia cut off from the region; Geostat publishes a new version and Georgia approves it"
v2=$(version_of region)
docker network disconnect "${project}_region" "$(cid ge-coordinator)"
cut_at=$EPOCHREALTIME
check change "$SDGX_TEST_EXAMPLES" geostat "compose-system-test: cut off" >/dev/null
wait_for "the new geostat/lfs at Georgia" 120 published ge geostat/lfs 2
approve ge >"$work/approved-ge-2.json"
queued() {
  upstream_status ge >"$work/upstream-ge.json" && json "$work/upstream-ge.json" "d['pending'] == 1 and max(e['attempts'] for e in d['entries'] if e['state'] == 'pending') >= 2" >/dev/null
}
wait_for "the new version to wait in Georgia's upstream queue, failing" 120 queued
attempts_cut=$(json "$work/upstream-ge.json" "max(e['attempts'] for e in d['entries'] if e['state'] == 'pending')")
[ "$(version_of region)" = "$v2" ] || fail "fault 2: the region's store changed while Georgia was cut off"
docker network connect "${project}_region" "$(cid ge-coordinator)"
reconnected_at=$EPOCHREALTIME
wait_for "Georgia's new version at the region, once" 120 relayed ge
delivered_in=$(since "$reconnected_at")
json "$work/relayed-ge.json" "d['expected'] == 2 and d['regional'] == 2" >/dev/null || fail "fault 2: $(cat "$work/relayed-ge.json")"
audit ge-coordinator >"$work/audit-ge-2.txt" 2>&1 || fail "fault 2: audit verify at Georgia: $(cat "$work/audit-ge-2.txt")"
f2="cut for $(awk -v a="$cut_at" -v b="$reconnected_at" 'BEGIN { printf "%.1f", b - a }')s, $attempts_cut failed attempts, region unchanged at version $v2; delivered ${delivered_in}s after reconnecting, exactly once (2 official, 2 regional); audit ok at Georgia"
say "   $f2"
phase "fault 2 (nation-region link cut)"

# ---- The region's approver signs off everything; the replicas follow.
say "the region's approver signs off what arrived; both replicas follow the writer"
approve region >"$work/approved-region.json"
v_region=$(version_of region)
for r in replica1 replica2; do
  wait_for "$r at store version $v_region" 60 at_version "$r" "$v_region"
done
check figures-http "$region_http" "$work/region.reader" >"$work/figures-region.json"
for r in replica1 replica2; do
  check figures-http "$(http_of "$r")" "$work/region.reader" >"$work/figures-$r.json"
  cmp -s "$work/figures-region.json" "$work/figures-$r.json" || fail "$r serves other figures than the writer"
done
phase "region approved, replicas checked"

# ---- Fault 3: restart everything.
say "fault 3: restart every service (the S3 server stays)"
declare -A before
for l in region am ge; do before[$l]=$(version_of $l); done
dc stop --timeout 20 >/dev/null 2>&1
dc up -d >"$work/up-2.log" 2>&1 || { cat "$work/up-2.log" >&2; fail "compose up after the restart"; }
wait_for "every service healthy after the restart" 300 healthy "${services[@]}"
endpoints
for n in "${nations[@]}"; do
  wait_for "$n's official view relayed after the restart" 120 relayed "$n"
  upstream_status "$n" >"$work/upstream-$n-3.json"
  json "$work/upstream-$n-3.json" "d['pending'] == 0 and d['failed'] == 0" >/dev/null || fail "fault 3: $n's upstream queue: $(cat "$work/upstream-$n-3.json")"
done
check figures-http "$region_http" "$work/region.reader" >"$work/figures-region-3.json"
cmp -s "$work/figures-region.json" "$work/figures-region-3.json" || fail "fault 3: the region's figures differ after the restart"
for l in region am ge; do
  [ "$(version_of $l)" = "${before[$l]}" ] || fail "fault 3: $l's store moved from version ${before[$l]} to $(version_of $l) on a restart"
done
cas_after=$(for level in region am ge; do dc run --rm --no-deps -T "pki-$level" cat /ca/ca.pem 2>/dev/null | sha256sum; done)
[ "$cas_after" = "$ca_sums" ] || fail "fault 3: the restart replaced a CA"
f3="versions unchanged (region ${before[region]}, Armenia ${before[am]}, Georgia ${before[ge]}); queues empty; regional figures identical; same three CAs"
say "   $f3"
phase "fault 3 (restart everything)"

# ---- The regional figures against the national stores.
say "the region's figures by area against the same figures over each national store"
for n in "${nations[@]}"; do
  # The region's configuration (its framework and areas) over the nation's own store, read only.
  docker exec -e SDGX_READ_ONLY=true "$(cid "$n-coordinator")" sdgx-coordinator --config /etc/sdgx/examples/system/region.toml \
    --data-dir /var/lib/sdgx figures --json >"$work/figures-over-$n.txt" 2>"$work/figures-over-$n.err" \
    || fail "the region's figures over $n's store: $(cat "$work/figures-over-$n.err")"
done
"$python" tests/py/compose_check.py areas "$work/figures-region.json" am:AM:"$work/figures-over-am.txt" ge:GE:"$work/figures-over-ge.txt" >"$work/areas.json" \
  || fail "the regional figures differ from the national stores': $(cat "$work/areas.json")"
for l in region am-coordinator ge-coordinator; do
  audit $l >"$work/audit-$l.txt" 2>&1 || fail "audit verify at $l: $(cat "$work/audit-$l.txt")"
done
for n in "${nations[@]}"; do relayed "$n" || fail "at the end: $(cat "$work/relayed-$n.json")"; done
phase "figures compared, audits"

echo
echo "== compose system test: passed"
printf '%-34s | %s\n' "fault" "outcome"
printf '%-34s | %s\n' "----------------------------------" "-------"
printf '%-34s | %s\n' "0 a nation publishing as another" "$f0"
printf '%-34s | %s\n' "1 kill -9 a nation mid-delivery" "$f1"
printf '%-34s | %s\n' "2 nation-region link cut" "$f2"
printf '%-34s | %s\n' "3 restart everything" "$f3"
printf '%-34s | %s\n' "at the end" "every official national publication at the region once ($(for n in "${nations[@]}"; do json "$work/relayed-$n.json" "f\"{d['nation']}: {d['expected']}\""; done | paste -sd, -)); replicas at the writer's version with its figures; audit ok at all three"
echo
echo "== regional figures (official view of the region; each area equal to the figures over its nation's store)"
json "$work/areas.json" "d['table']"
echo
print_phases
