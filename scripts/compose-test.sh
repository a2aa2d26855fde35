#!/usr/bin/env bash
# The compose fault-injection test: the example federation of docker-compose.yml in containers
# (coordinator, the seven agencies' agents, mutual TLS, named volumes), checked from the host
# through Flight SQL, then three faults and what is left after each:
#   1. the coordinator's container killed (SIGKILL) during a burst of concurrent publications:
#      after its restart every acknowledged publication is in the store, whole, with the
#      acknowledged content; no partial publication is visible; `audit verify` passes;
#   2. an agent's container disconnected from the network while it publishes, then reconnected:
#      its outbox delivers the new version exactly once;
#   3. everything restarted: the figures are identical, and nothing is published again.
# Prints a table of the faults and their outcomes and the time of each phase; tears everything
# down (containers, network, volumes, the image it built) whatever happens.
#
# Builds no Rust in Docker: the image is made from the host's debug binaries
# (${CARGO_TARGET_DIR:-target}/debug, built here when missing) on a Debian 12 base imported
# locally (docker/local-base.sh), through the override docker/compose.local.yml; so it needs
# no registry. Needs Docker, docker-compose (v1.29+) or the compose plugin, root or sudo for
# debootstrap on the first run, and the project's Python venv (scripts/venv.sh).
# Usage: scripts/compose-test.sh       (SDGX_COMPOSE_KEEP=1 keeps the work directory)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
agencies=(armstat sms moes diaspora labour cba moh)
datasets=8 # armstat publishes two

# A project name of its own: containers, network and volumes are all labelled with it.
project="sdgxct$(date +%s)$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/sdgx-compose.XXXXXX")
# The coordinator's ports on the host's loopback only, on ports Docker picks.
export SDGX_BIND=127.0.0.1 SDGX_FLIGHT_PORT='' SDGX_ANALYST_PORT='' SDGX_HTTP_PORT=''
dc() { "${compose[@]}" -p "$project" -f docker-compose.yml -f docker/compose.local.yml "$@"; }
network="${project}_default"
source scripts/compose-lib.sh
trap 'teardown; exit $?' EXIT
trap 'exit 130' INT TERM

agent_config() { echo "/etc/sdgx/examples/federation/$1/agent.toml"; }
# Every agent's outbox (sdgx-agent status --json inside its container), summed up.
outboxes() {
  mkdir -p "$work/outbox"
  local a
  for a in "${agencies[@]}"; do
    docker exec "$(cid "agent-$a")" sdgx-agent status --json --config "$(agent_config "$a")" >"$work/outbox/$a.json" 2>/dev/null || true
  done
  check outboxes "$work"/outbox/*.json
}
drained() { outboxes >"$work/outboxes.json" && json "$work/outboxes.json" "d['pending'] == 0 and not d['failed']" >/dev/null; }
store_version() { curl -fsS "$http/health" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["store_version"])'; }
version_above() { [ "$(store_version)" -gt "$1" ]; }
store_ok() { check store "$flight" "$work/ca.pem" "$work/analyst.token" >"$work/store.json"; }
all_published() { store_ok && json "$work/store.json" "len(d['publications']) == $datasets" >/dev/null; }
audit() { docker exec "$(cid coordinator)" sdgx-coordinator --config /etc/sdgx/examples/federation/coordinator.toml audit verify; }

say "compose test: project $project, with ${compose[*]}, work directory $work"

stage

say "docker compose up: pki, then the coordinator, then ${#agencies[@]} agents"
dc up -d >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "compose up"; }
services=(coordinator "${agencies[@]/#/agent-}")
wait_for "every service healthy" 180 healthy "${services[@]}"
[ "$(docker inspect --format '{{.State.ExitCode}}' "$(cid pki)")" = 0 ] || fail "the pki service failed"
# The analysts' token and the CA certificate, from the volume the pki service wrote (the token
# goes to a private file, never to the output).
( umask 077; dc run --rm --no-deps -T pki cat /ca/tokens/analyst.token >"$work/analyst.token" 2>/dev/null )
dc run --rm --no-deps -T pki cat /ca/ca.pem >"$work/ca.pem" 2>/dev/null
ca_sum=$(sha256sum <"$work/ca.pem")
# The host ports Docker picked; they change whenever the coordinator's container starts again.
endpoints() {
  local a h
  a=$(docker port "$(cid coordinator)" 50052/tcp | head -1)
  h=$(docker port "$(cid coordinator)" 8080/tcp | head -1)
  flight="grpc+tls://127.0.0.1:${a##*:}"
  http="http://127.0.0.1:${h##*:}"
}
endpoints
say "coordinator: Flight SQL $flight, HTTP $http (from the host)"
phase "compose up, all healthy"

say "the example federation: every agent publishes at start"
wait_for "the $datasets example datasets in the store" 180 all_published
wait_for "every outbox delivered" 60 drained
check figures "$flight" "$work/ca.pem" "$work/analyst.token" >"$work/figures-0.json"
headline=$(json "$work/figures-0.json" "d['headline']")
json "$work/figures-0.json" "d['headline']['numerator'] == 7 and d['headline']['denominator'] == 15" >/dev/null \
  || fail "headline figure $headline, expected 7 of 15 (docs/figures.md)"
v_federation=$(store_version)
say "store version $v_federation, $datasets publications; headline through Flight SQL: $headline"
phase "federation published, figures read"

# ---- Fault 1: kill -9 the coordinator during a burst of concurrent publications.
say "fault 1: a burst of publications from every agent; SIGKILL the coordinator mid-burst"
f1_started=$EPOCHREALTIME
v0=$(store_version)
for a in "${agencies[@]}"; do check change "$SDGX_TEST_EXAMPLES" "$a" "compose-test burst 1" >/dev/null; done
# Kill as soon as the first publication of the burst is committed: the others are in flight.
wait_for "the first publication of the burst" 60 version_above "$v0"
docker kill --signal KILL "$(cid coordinator)" >/dev/null
killed_at=$EPOCHREALTIME
outboxes >"$work/at-kill.json"
acked_at_kill=$(json "$work/at-kill.json" "len([a for a in d['acks'] if a['store_version'] > $v0])")
pending_at_kill=$(json "$work/at-kill.json" "d['pending']")
kill_version=$(json "$work/at-kill.json" "max(a['store_version'] for a in d['acks'])")
say "   killed after store version $kill_version: $acked_at_kill burst publications acknowledged, $pending_at_kill pending"
# The burst goes on while the coordinator is down: every dataset changes again.
for a in "${agencies[@]}"; do check change "$SDGX_TEST_EXAMPLES" "$a" "compose-test burst 2" >/dev/null; done
dc start coordinator >/dev/null 2>&1
wait_for "the coordinator healthy again" 120 healthy coordinator
endpoints
restarted_in=$(since "$killed_at")
wait_for "every outbox delivered after the restart" 120 drained
outboxes >"$work/after-1.json"
json "$work/after-1.json" "d['acks']" >"$work/acks-1.json"
check acks "$flight" "$work/ca.pem" "$work/analyst.token" "$work/acks-1.json" >"$work/acks-1.result" \
  || fail "fault 1: acknowledged publications: $(cat "$work/acks-1.result")"
store_ok || fail "fault 1: partial publications: $(cat "$work/store.json")"
# The store's current version of each dataset is the agent's newest delivery (burst 2).
"$python" - "$work/store.json" "$work/after-1.json" <<'EOF' || fail "fault 1: the store's current publications are not the agents' newest deliveries"
import json, sys
store, ob = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
current = {f"{p['agency']}/{p['dataset']}": p["content_hash"] for p in store["publications"]}
wrong = {k: (current.get(k), h) for k, h in ob["newest_sent"].items() if current.get(k) != h}
print(json.dumps(wrong)) if wrong else None
sys.exit(1 if wrong or len(current) != 8 else 0)
EOF
audit >"$work/audit-1.txt" 2>&1 || fail "fault 1: audit verify: $(cat "$work/audit-1.txt")"
v1=$(store_version)
acks_checked=$(json "$work/acks-1.result" "d['checked']")
f1="SIGKILL after version $kill_version: $acked_at_kill of the burst acked, $pending_at_kill pending; healthy again in ${restarted_in}s; versions $v0->$v1; $acks_checked acks all present and whole; no partial publication; audit ok ($(tail -1 "$work/audit-1.txt" | cut -c1-60))"
say "   $f1"
phase "fault 1 (kill -9 coordinator)"

# ---- Fault 2: an agent cut off the network while it publishes, then reconnected.
say "fault 2: agent-sms disconnected from the network while publishing a new version"
sms=$(cid agent-sms)
v2=$(store_version)
docker network disconnect "$network" "$sms"
cut_at=$EPOCHREALTIME
check change "$SDGX_TEST_EXAMPLES" sms "compose-test disconnected" >/dev/null
sms_failed_attempts() {
  docker exec "$sms" sdgx-agent status --json --config "$(agent_config sms)" >"$work/outbox/sms.json" 2>/dev/null || true
  check outboxes "$work/outbox/sms.json" >"$work/sms.json"
  json "$work/sms.json" "d['pending'] == 1 and max(n for h, n in d['attempts'].items() if d['by_hash'][h] == ['pending']) >= 2" >/dev/null
}
# The new version is staged and its delivery fails, at least twice, while the agent is cut off.
wait_for "agent-sms to try and fail to deliver while disconnected" 90 sms_failed_attempts
new_hash=$(json "$work/sms.json" "[h for h, s in d['by_hash'].items() if s == ['pending']][0]")
attempts_cut=$(json "$work/sms.json" "d['attempts']['$new_hash']")
[ "$(store_version)" = "$v2" ] || fail "fault 2: the store changed while the only publishing agent was disconnected"
docker network connect "$network" "$sms"
reconnected_at=$EPOCHREALTIME
wait_for "agent-sms to deliver after reconnecting" 120 drained
delivered_in=$(since "$reconnected_at")
outboxes >"$work/after-2.json"
check history "$http" "$work/analyst.token" >"$work/history-2.json"
commits=$(json "$work/history-2.json" "len(d['commits'].get('$new_hash', []))")
[ "$commits" = 1 ] || fail "fault 2: content $new_hash committed $commits times, expected exactly once"
json "$work/after-2.json" "d['by_hash']['$new_hash'] == ['sent']" >/dev/null \
  || fail "fault 2: the outbox holds $(json "$work/after-2.json" "d['by_hash']['$new_hash']") for $new_hash, expected one sent entry"
store_ok || fail "fault 2: partial publications: $(cat "$work/store.json")"
json "$work/store.json" "[p for p in d['publications'] if p['agency'] == 'sms'][0]['content_hash'] == '$new_hash'" >/dev/null \
  || fail "fault 2: the store's current sms publication is not the new version"
json "$work/after-2.json" "d['acks']" >"$work/acks-2.json"
check acks "$flight" "$work/ca.pem" "$work/analyst.token" "$work/acks-2.json" >"$work/acks-2.result" \
  || fail "fault 2: acknowledged publications: $(cat "$work/acks-2.result")"
v3=$(store_version)
f2="cut ${attempts_cut} failed attempts over $(awk -v a="$cut_at" -v b="$reconnected_at" 'BEGIN { printf "%.1f", b - a }')s; delivered ${delivered_in}s after reconnecting; committed exactly once (1 commit of its hash, 1 sent outbox entry); versions $v2->$v3"
say "   $f2"
phase "fault 2 (network disconnect)"

# ---- Fault 3: restart everything; the figures must not change.
say "fault 3: restart every service"
check figures "$flight" "$work/ca.pem" "$work/analyst.token" >"$work/figures-before.json"
cmp -s <(json "$work/figures-0.json" "d['views']") <(json "$work/figures-before.json" "d['views']") \
  || fail "the faults changed the figures, though only footnotes changed"
v_before=$(store_version)
dc stop --timeout 20 >/dev/null 2>&1
dc up -d >"$work/up-2.log" 2>&1 || { cat "$work/up-2.log" >&2; fail "compose up after the restart"; }
wait_for "every service healthy after the restart" 180 healthy "${services[@]}"
endpoints
wait_for "every outbox drained after the restart" 120 drained
# Each daemon publishes at start; content identical to its last delivery is not sent again.
check figures "$flight" "$work/ca.pem" "$work/analyst.token" >"$work/figures-after.json"
cmp -s "$work/figures-before.json" "$work/figures-after.json" || fail "fault 3: the figures differ after the restart"
v_after=$(store_version)
[ "$v_after" = "$v_before" ] || fail "fault 3: the store moved from version $v_before to $v_after on a restart"
dc run --rm --no-deps -T pki cat /ca/ca.pem 2>/dev/null | sha256sum | grep -qx "$ca_sum" || fail "fault 3: the restart replaced the CA"
store_ok || fail "fault 3: partial publications: $(cat "$work/store.json")"
audit >"$work/audit-3.txt" 2>&1 || fail "fault 3: audit verify: $(cat "$work/audit-3.txt")"
views=$(json "$work/figures-after.json" "len(d['views'])")
f3="figures identical ($views views, headline $(json "$work/figures-after.json" "d['headline']")); store version $v_before before and after; same CA; audit ok"
say "   $f3"
phase "fault 3 (restart everything)"

echo
echo "== compose fault-injection test: passed"
printf '%-32s | %s\n' "fault" "outcome"
printf '%-32s | %s\n' "--------------------------------" "-------"
printf '%-32s | %s\n' "federation up" "$datasets publications at version $v_federation; headline $headline via Flight SQL"
printf '%-32s | %s\n' "1 kill -9 coordinator in burst" "$f1"
printf '%-32s | %s\n' "2 agent off the network" "$f2"
printf '%-32s | %s\n' "3 restart everything" "$f3"
echo
print_phases
