#!/usr/bin/env bash
# The checks of scripts/deb-test.sh, run inside its container (as root, with no network but the
# loopback): installs the packages of DEB_DIR with dpkg and does what docs/install.md tells a
# statistical office and an agency to do, checking each step:
#   1. dpkg -i both packages; the system user sdgx, every file, the conffiles, the directories
#      and their owners; systemd-analyze verify on both units (and their exposure score);
#   2. the certificates and a token made as docs/install.md says, the shipped configurations
#      edited as it says (the agency registered, the example dataset enabled);
#   3. each unit's ExecStart started as the unit would start it (its User and Group, its
#      Environment and EnvironmentFile, its WorkingDirectory, no new privileges): the
#      coordinator answers on /health, the agent's daemon publishes the example dataset to it,
#      and both stop on the unit's KillSignal with exit status 0;
#   4. with --systemd (systemd is process 1 here), the same through `systemctl start`, every
#      sandboxing setting of the units enforced, on data directories systemd creates, with an
#      SDGX_* override in /etc/default/sdgx-coordinator;
#   5. the store passes `audit verify`; everything the services wrote belongs to sdgx;
#   6. dpkg -i again (an upgrade) keeps the edited configurations and restarts the running
#      services; dpkg -r stops them and keeps the configurations, dpkg -P removes them and keeps
#      the data.
# Fails (exit 1) naming the first check that does not hold, with the program's log.
#   tests/deb/installed.sh DEB_DIR [--systemd]
set -euo pipefail
debs=${1:?usage: installed.sh DEB_DIR [--systemd]}
# --systemd: systemd is process 1 of this container; the units also run under it (step 4).
under_systemd=0
if [ "${2:-}" = --systemd ]; then
  under_systemd=1
  [ -d /run/systemd/system ] || { echo "deb test: FAILED: --systemd, but systemd is not running" >&2; exit 1; }
fi
programs=(coordinator agent)
logs=/tmp/sdgx-deb-logs
mkdir -p "$logs"

say() { echo "== $*"; }
fail() {
  echo "deb test: FAILED: $*" >&2
  exit 1
}
# Runs a check (a command); prints it when it holds, fails naming it otherwise.
check() {
  local what=$1
  shift
  "$@" || fail "$what"
  echo "   ok: $what"
}
equals() { [ "$1" = "$2" ] || { echo "   expected '$2', found '$1'" >&2; return 1; }; }
# Runs COMMAND with its output in LOG; on failure prints the log and returns 1.
logged() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
}

# The values of KEY in the [Service] section of a unit file, one a line (systemd's syntax: later
# lines add to earlier ones; the unit files here use no line continuations).
unit_values() {
  awk -v key="$2" '
    /^\[/ { service = ($0 == "[Service]"); next }
    service && index($0, key "=") == 1 { print substr($0, length(key) + 2) }
  ' "$1"
}
unit_value() { unit_values "$1" "$2" | tail -n 1; }
unit_file() { echo "/usr/lib/systemd/system/sdgx-$1.service"; }

# Starts sdgx-PROGRAM as its unit would, as a child of this shell whose id it leaves in
# $started: the unit's User and Group with their supplementary groups, no new privileges, an
# environment of only what systemd sets (PATH, HOME, USER, LOGNAME, SHELL, STATE_DIRECTORY), the
# unit's Environment= and its EnvironmentFile= (a "-" one may be missing), in its
# WorkingDirectory, its StateDirectory= created as systemd creates it (StateDirectoryMode,
# default 0755); standard output and error go to $logs/PROGRAM.log.
start_unit() {
  local unit user group wd home shell v f line mode
  unit=$(unit_file "$1")
  user=$(unit_value "$unit" User)
  group=$(unit_value "$unit" Group)
  wd=$(unit_value "$unit" WorkingDirectory)
  IFS=: read -r _ _ _ _ _ home shell <<<"$(getent passwd "$user")"
  local -a env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME="$home" USER="$user" LOGNAME="$user" SHELL="$shell")
  local -a states=() words=() cmd=()
  while read -r v; do
    [ -n "$v" ] || continue
    read -ra words <<<"$v"
    for f in "${words[@]}"; do
      mode=$(unit_value "$unit" StateDirectoryMode)
      install -d -o "$user" -g "$group" -m "${mode:-0755}" "/var/lib/$f"
      states+=("/var/lib/$f")
    done
  done < <(unit_values "$unit" StateDirectory)
  if [ ${#states[@]} -gt 0 ]; then env+=(STATE_DIRECTORY="$(IFS=:; echo "${states[*]}")"); fi
  while read -r v; do
    [ -n "$v" ] || continue
    case $v in *\"* | *\'* | *\\*) fail "$unit: quoted Environment= values are not handled by this test: $v" ;; esac
    read -ra words <<<"$v"
    env+=("${words[@]}")
  done < <(unit_values "$unit" Environment)
  while read -r f; do
    [ -n "$f" ] || continue
    if [ "${f#-}" != "$f" ]; then
      f=${f#-}
      [ -e "$f" ] || continue
    fi
    [ -r "$f" ] || fail "$unit: EnvironmentFile $f is missing"
    while IFS= read -r line; do
      case $line in '' | '#'* | ';'*) continue ;; esac
      env+=("$line")
    done <"$f"
  done < <(unit_values "$unit" EnvironmentFile)
  read -ra cmd <<<"$(unit_value "$unit" ExecStart)"
  [[ "${cmd[0]}" = /* ]] || fail "$unit: ExecStart does not name its program by an absolute path: ${cmd[*]}"
  setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
    env -i -C "$wd" "${env[@]}" "${cmd[@]}" >"$logs/$1.log" 2>&1 &
  started=$!
}
# Fails with the program's log when process PID (of PROGRAM) is gone.
alive() {
  kill -0 "$1" 2>/dev/null && return 0
  echo "--- the log of sdgx-$2 (it exited)" >&2
  cat "$logs/$2.log" >&2
  fail "sdgx-$2 exited: $(unit_value "$(unit_file "$2")" ExecStart)"
}
# Stops PROGRAM's process PID with its unit's KillSignal within its TimeoutStopSec; its exit
# status must be 0 (a clean shutdown, as systemd expects from Type=exec).
stop_unit() {
  local unit signal timeout deadline rc=0
  unit=$(unit_file "$2")
  signal=$(unit_value "$unit" KillSignal)
  timeout=$(unit_value "$unit" TimeoutStopSec)
  kill -s "${signal:-SIGTERM}" "$1"
  deadline=$((SECONDS + ${timeout:-90}))
  while kill -0 "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { kill -KILL "$1"; fail "sdgx-$2 did not stop within ${timeout}s of ${signal:-SIGTERM}"; }
    sleep 0.2
  done
  wait "$1" || rc=$?
  [ $rc -eq 0 ] || { cat "$logs/$2.log" >&2; fail "sdgx-$2 exited with status $rc on ${signal:-SIGTERM}"; }
  echo "   ok: sdgx-$2 stopped on ${signal:-SIGTERM} with exit status 0"
}

# An HTTP/1.0 GET of PATH on HOST:PORT through bash's /dev/tcp (no client in the image);
# prints the response, status line first. Optional TOKEN: a bearer token.
http_get() {
  local host=${1%:*} port=${1##*:}
  exec 3<>"/dev/tcp/$host/$port" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n%s\r\n' "$2" "$1" "${3:+Authorization: Bearer $3$'\r\n'}" >&3
  cat <&3
  exec 3<&-
}
# The body of a 200 answer, or nothing (status 1).
http_ok() {
  local response
  response=$(http_get "$@" 2>/dev/null) || return 1
  [[ "$response" == "HTTP/1."?" 200 "* ]] || return 1
  printf '%s\n' "${response#*$'\r\n\r\n'}"
}
# The store version the coordinator's /health reports.
store_version() { http_ok "$http" /health | sed -n 's/.*"store_version":\([0-9]*\).*/\1/p'; }
# Polls until COMMAND succeeds, at most TIMEOUT seconds, while process PID of PROGRAM lives.
wait_for() {
  local what=$1 timeout=$2 pid=$3 program=$4
  shift 4
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    alive "$pid" "$program"
    [ $SECONDS -lt $deadline ] || { cat "$logs/$program.log" >&2; fail "timed out after ${timeout}s waiting for $what"; }
    sleep 0.2
  done
  echo "   ok: $what"
}
as_sdgx() { setpriv --reuid=sdgx --regid=sdgx --init-groups --no-new-privs env -C /var/lib/sdgx "$@"; }

say "1. dpkg -i $(cd "$debs" && echo sdgx-*.deb)"
dpkg -i "$debs"/sdgx-coordinator_*.deb "$debs"/sdgx-agent_*.deb >"$logs/dpkg-install.log" 2>&1 \
  || { cat "$logs/dpkg-install.log" >&2; fail "dpkg -i"; }
for p in "${programs[@]}"; do
  check "sdgx-$p is installed" equals "$(dpkg-query -W -f='${Status}' "sdgx-$p")" "install ok installed"
done
IFS=: read -r _ _ uid gid _ home shell <<<"$(getent passwd sdgx)"
check "the user sdgx exists" [ -n "$uid" ]
check "sdgx is a system user (uid $uid)" [ "$uid" -lt 1000 ]
check "sdgx's primary group is the group sdgx" equals "$(getent group "$gid" | cut -d: -f1)" sdgx
check "sdgx's home is /var/lib/sdgx" equals "$home" /var/lib/sdgx
check "sdgx cannot log in" equals "$shell" /usr/sbin/nologin
check "/etc/sdgx/pki is root:sdgx 750" equals "$(stat -c '%U:%G %a' /etc/sdgx/pki)" "root:sdgx 750"
for p in "${programs[@]}"; do
  version=$("/usr/bin/sdgx-$p" --version) || fail "/usr/bin/sdgx-$p --version: the program does not run on this system"
  echo "   ok: /usr/bin/sdgx-$p runs on this system: $(head -n 1 <<<"$version")"
  check "/etc/sdgx/$p.toml is a conffile of sdgx-$p" grep -q "^ /etc/sdgx/$p.toml " <(dpkg-query -W -f='${Conffiles}\n' "sdgx-$p")
  check "$(unit_file "$p") belongs to sdgx-$p" equals "$(dpkg -S "$(unit_file "$p")" | cut -d: -f1)" "sdgx-$p"
  check "/var/lib/sdgx/$p is sdgx:sdgx 750" equals "$(stat -c '%U:%G %a' "/var/lib/sdgx/$p")" "sdgx:sdgx 750"
  check "the unit runs as sdgx:sdgx" equals "$(unit_value "$(unit_file "$p")" User):$(unit_value "$(unit_file "$p")" Group)" sdgx:sdgx
  check "the unit's ExecStart reads /etc/sdgx/$p.toml" grep -q -- "--config /etc/sdgx/$p.toml" <(unit_value "$(unit_file "$p")" ExecStart)
  for d in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes "StateDirectory=sdgx/$p" "ReadWritePaths=/var/lib/sdgx/$p"; do
    check "the unit sets $d" grep -qx "$d" "$(unit_file "$p")"
  done
done
if [ "$under_systemd" = 1 ]; then
  for p in "${programs[@]}"; do
    check "installing enabled no service (sdgx-$p is $(systemctl is-enabled "sdgx-$p" || true))" equals "$(systemctl is-enabled "sdgx-$p" || true)" disabled
    check "installing started no service (sdgx-$p is $(systemctl is-active "sdgx-$p" || true))" equals "$(systemctl is-active "sdgx-$p" || true)" inactive
  done
fi
check "/usr/share/sdgx-agent/examples holds the example dataset" [ -s /usr/share/sdgx-agent/examples/labour-market.csv ]
if command -v systemd-analyze >/dev/null; then
  for p in "${programs[@]}"; do
    verify=$(systemd-analyze verify "$(unit_file "$p")" 2>&1) || { echo "$verify" >&2; fail "systemd-analyze verify sdgx-$p.service"; }
    [ -z "$verify" ] || { echo "$verify" >&2; fail "systemd-analyze verify sdgx-$p.service printed warnings"; }
    echo "   ok: systemd-analyze verify sdgx-$p.service: no error, no warning"
    systemd-analyze security --offline=yes --no-pager "$(unit_file "$p")" >"$logs/security-$p.txt" 2>&1 || true
    exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$logs/security-$p.txt")
    [ -n "$exposure" ] || { cat "$logs/security-$p.txt" >&2; fail "systemd-analyze security sdgx-$p.service gave no exposure level"; }
    check "systemd-analyze security: sdgx-$p.service's exposure level $exposure is at most 2.0 (of 10)" awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'

  done
else
  echo "   (no systemd-analyze in this image: the units were checked by the lines above only)"
fi

say "2. certificates, a token and the configurations, as docs/install.md says"
unconfigured() {
  ! as_sdgx sdgx-agent check --config /etc/sdgx/agent.toml >"$logs/unconfigured.log" 2>&1 \
    && grep -q 'agency "CHANGE-ME" is not a valid id' "$logs/unconfigured.log"
}
check "the agent refuses the shipped agent.toml until its agency is set" unconfigured
ca=/root/sdgx-ca
check "ca init (the national CA and the coordinator's certificate)" logged "$logs/ca.log" \
  sdgx-coordinator ca init --dir "$ca" --name localhost --name 127.0.0.1
check "ca issue-agent --agency labour" logged "$logs/ca-agent.log" sdgx-coordinator ca issue-agent --dir "$ca" --agency labour
# The coordinator's files, then the agency's (on the agency's own server in real life): keys
# readable by the group sdgx only.
check "the coordinator's certificate in /etc/sdgx/pki" install -m 0644 "$ca/ca.pem" "$ca/server.pem" /etc/sdgx/pki/
check "the coordinator's key in /etc/sdgx/pki" install -m 0640 -g sdgx "$ca/server.key" /etc/sdgx/pki/
check "the coordinator's signing certificate in /etc/sdgx/pki" install -m 0644 "$ca/signing.pem" /etc/sdgx/pki/
check "the coordinator's signing key in /etc/sdgx/pki" install -m 0640 -g sdgx "$ca/signing.key" /etc/sdgx/pki/
check "the agency's certificate in /etc/sdgx/pki" install -m 0644 "$ca/agents/labour.pem" /etc/sdgx/pki/agent.pem
check "the agency's key in /etc/sdgx/pki" install -m 0640 -g sdgx "$ca/agents/labour.key" /etc/sdgx/pki/agent.key
token_create() { sdgx-coordinator --config /etc/sdgx/coordinator.toml token create --role reader --name analyst >/root/analyst.token 2>"$logs/token.log" || { cat "$logs/token.log" >&2; return 1; }; }
check "token create --role reader (into the configured token file)" token_create
check "the token file is readable by the group sdgx" chgrp sdgx /etc/sdgx/pki/tokens.toml
chmod 0640 /etc/sdgx/pki/tokens.toml
hashed() { [ -s /root/analyst.token ] && [ -s /etc/sdgx/pki/tokens.toml ] && ! grep -qF "$(cat /root/analyst.token)" /etc/sdgx/pki/tokens.toml; }
check "the reader token is made, and only its hash is in tokens.toml" hashed
# The registry entry and the example dataset, commented out in the shipped files: uncommented.
sed -i '/^# \[\[security.agency\]\]$/,$ s/^# //' /etc/sdgx/coordinator.toml
sed -i -e 's/^agency = .*/agency = "labour"/' -e 's|^coordinator = .*|coordinator = "https://localhost:50051"|' \
  -e '/^# \[\[dataset\]\]$/,$ s/^# //' /etc/sdgx/agent.toml
check "the agency labour is registered" grep -qx 'datasets = \["labour-market"\]' /etc/sdgx/coordinator.toml
check "the example dataset is configured" grep -qx 'source = "/usr/share/sdgx-agent/examples/labour-market.csv"' /etc/sdgx/agent.toml
check "sdgx-agent check passes as sdgx" logged "$logs/check.log" as_sdgx sdgx-agent check --config /etc/sdgx/agent.toml

say "3. each unit's command line, started as the unit starts it"
http=$(sed -n 's/^http_addr = "\(.*\)"$/\1/p' /etc/sdgx/coordinator.toml)
token=$(cat /root/analyst.token)
start_unit coordinator
coordinator=$started
wait_for "the coordinator answers on http://$http/health" 60 "$coordinator" coordinator http_ok "$http" /health
check "the store is empty (version $(store_version))" equals "$(store_version)" 0
start_unit agent
agent=$started
published() { [ "$(store_version)" -ge 1 ]; }
wait_for "the agent's daemon published (store version 1 or more)" 120 "$agent" agent published
alive "$agent" agent
http_ok "$http" /api/v1/publications "$token" >"$logs/publications.json" || fail "GET /api/v1/publications with the reader token"
check "the coordinator logged labour's labour-market" grep -q '"agency":"labour","dataset":"labour-market"' <(tr -d ' \n' <"$logs/publications.json")
stop_unit "$agent" agent
stop_unit "$coordinator" coordinator
check "the coordinator logged its shutdown" grep -q 'shutting down' "$logs/coordinator.log"

# Under systemd: the units themselves, with every sandboxing setting enforced, on fresh data
# directories that systemd creates (StateDirectory=).
active() { [ "$(systemctl is-active "sdgx-$1")" = active ]; }
# Fails with the unit's journal when it is not active.
unit_running() {
  active "$1" && return 0
  journalctl -u "sdgx-$1" --no-pager -n 40 >&2 || true
  systemctl status "sdgx-$1" --no-pager >&2 || true
  fail "sdgx-$1.service is $(systemctl is-active "sdgx-$1" || true)"
}
# Polls until COMMAND succeeds, at most TIMEOUT seconds, while UNIT is active.
wait_unit() {
  local what=$1 timeout=$2 unit=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    unit_running "$unit"
    [ $SECONDS -lt $deadline ] || { journalctl -u "sdgx-$unit" --no-pager -n 40 >&2; fail "timed out after ${timeout}s waiting for $what"; }
    sleep 0.2
  done
  echo "   ok: $what"
}
main_pid() { systemctl show -p MainPID --value "sdgx-$1"; }
if [ "$under_systemd" = 1 ]; then
  say "4. under systemd: systemctl start, with the units' sandboxing"
  rm -rf /var/lib/sdgx/coordinator /var/lib/sdgx/agent
  # An override in the optional environment file (root-only, read by systemd): another HTTP port.
  install -m 0600 /dev/null /etc/default/sdgx-coordinator
  echo "SDGX_HTTP_ADDR=127.0.0.1:8081" >/etc/default/sdgx-coordinator
  http=127.0.0.1:8081
  check "systemctl start sdgx-coordinator" systemctl start sdgx-coordinator
  wait_unit "the coordinator answers on http://$http/health (SDGX_HTTP_ADDR of /etc/default/sdgx-coordinator)" 60 coordinator http_ok "$http" /health
  check "systemd made /var/lib/sdgx/coordinator (StateDirectory), sdgx:sdgx 750" equals "$(stat -c '%U:%G %a' /var/lib/sdgx/coordinator)" "sdgx:sdgx 750"
  check "the new store is empty (version $(store_version))" equals "$(store_version)" 0
  check "systemctl start sdgx-agent" systemctl start sdgx-agent
  wait_unit "the agent's service published (store version 1 or more)" 120 agent published
  unit_running agent
  unit_running coordinator
  check "the agent's service runs as sdgx" equals "$(stat -c %U "/proc/$(main_pid agent)")" sdgx
  check "the coordinator's journal holds the acknowledgement" grep -q 'publication acknowledged agency=labour dataset=labour-market' <(journalctl -u sdgx-coordinator --no-pager)
else
  say "4. under systemd: NOT RUN (this container has no systemd as process 1; scripts/deb-test.sh runs it with SDGX_DEB_SYSTEMD=1, its default)"
fi

say "5. what the services left"
if [ "$under_systemd" = 1 ]; then
  check "systemctl stop sdgx-agent sdgx-coordinator" systemctl stop sdgx-agent sdgx-coordinator
  for p in "${programs[@]}"; do
    check "sdgx-$p stopped cleanly (Result=success, status 0)" equals "$(systemctl show -p Result -p ExecMainStatus --value "sdgx-$p" | tr '\n' ' ')" "success 0 "
  done
fi
check "audit verify passes on the store" logged "$logs/audit.log" as_sdgx sdgx-coordinator --config /etc/sdgx/coordinator.toml audit verify
check "the store is in /var/lib/sdgx/coordinator" [ -d /var/lib/sdgx/coordinator/store ]
check "the outbox is in /var/lib/sdgx/agent" [ -d /var/lib/sdgx/agent/outbox ]
strays=$(find /var/lib/sdgx/coordinator /var/lib/sdgx/agent ! -user sdgx)
check "everything in the data directories belongs to sdgx" equals "$strays" ""

say "6. upgrade (dpkg -i again), removal and purge"
if [ "$under_systemd" = 1 ]; then
  systemctl start sdgx-agent sdgx-coordinator
  wait_unit "the coordinator answers again" 60 coordinator http_ok "$http" /health
  before=$(main_pid coordinator)
fi
dpkg -i "$debs"/sdgx-coordinator_*.deb "$debs"/sdgx-agent_*.deb >"$logs/dpkg-upgrade.log" 2>&1 \
  || { cat "$logs/dpkg-upgrade.log" >&2; fail "dpkg -i over the installed packages"; }
check "the upgrade kept the edited agent.toml" grep -qx 'agency = "labour"' /etc/sdgx/agent.toml
check "the upgrade kept the edited coordinator.toml" grep -qx 'id = "labour"' /etc/sdgx/coordinator.toml
check "the upgrade kept the user sdgx (uid $uid)" equals "$(id -u sdgx)" "$uid"
if [ "$under_systemd" = 1 ]; then
  wait_unit "the upgrade restarted the running coordinator, which answers" 60 coordinator http_ok "$http" /health
  check "the coordinator runs a new process (pid $before, now $(main_pid coordinator))" [ "$(main_pid coordinator)" != "$before" ]
  unit_running agent
  check "the store survived the upgrade (version $(store_version))" published
fi
dpkg -r sdgx-agent >"$logs/dpkg-remove.log" 2>&1 || { cat "$logs/dpkg-remove.log" >&2; fail "dpkg -r sdgx-agent"; }
check "dpkg -r removed /usr/bin/sdgx-agent" [ ! -e /usr/bin/sdgx-agent ]
check "dpkg -r kept /etc/sdgx/agent.toml" [ -s /etc/sdgx/agent.toml ]
dpkg -P sdgx-agent sdgx-coordinator >"$logs/dpkg-purge.log" 2>&1 || { cat "$logs/dpkg-purge.log" >&2; fail "dpkg -P"; }
if [ "$under_systemd" = 1 ]; then
  for p in "${programs[@]}"; do
    check "removing sdgx-$p stopped its service" equals "$(systemctl is-active "sdgx-$p" || true)" inactive
  done
fi
check "no process of sdgx is left" equals "$(find /proc -maxdepth 1 -regex '/proc/[0-9]+' -user sdgx)" ""
check "dpkg -P removed agent.toml" [ ! -e /etc/sdgx/agent.toml ]
check "dpkg -P removed coordinator.toml" [ ! -e /etc/sdgx/coordinator.toml ]
check "dpkg -P kept the store" [ -d /var/lib/sdgx/coordinator/store ]
check "dpkg -P kept the outbox" [ -d /var/lib/sdgx/agent/outbox ]
check "dpkg -P kept the certificates" [ -s /etc/sdgx/pki/server.key ]
echo "== deb test: all checks passed"
