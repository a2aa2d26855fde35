#!/usr/bin/env bash
# The Debian packages test: builds the .deb of sdgx-agent and sdgx-coordinator from the binaries
# built already (scripts/deb-build.sh with SDGX_BIN_DIR: no release build), then installs and
# runs them in a container of the project's local Debian 12 base (docker/local-base.sh, with
# systemd's tools: docker/deb-test.Dockerfile), as docs/install.md says: dpkg -i, the user, the
# files and the units (systemd-analyze verify), then each unit's ExecStart as its user, the
# coordinator answering on /health and the agent's daemon publishing to it, then the same with
# `systemctl start` under systemd (process 1 of the container) with the units' sandboxing, then
# upgrade, removal and purge (tests/deb/installed.sh has every check). Prints the packages' sizes and
# the time of each phase; removes its container whatever happens (the test image stays, as a
# cache, like the local base).
# Needs Docker (no registry: the base is made locally) and, the first time, Debian's mirror.
#   scripts/deb-test.sh      (SDGX_BIN_DIR: the built binaries; default
#                             ${CARGO_TARGET_DIR:-target}/debug, built here when missing.
#                             SDGX_DEB_SYSTEMD=0: a container without systemd running, where
#                             only the units' command lines are started, not the units)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$EPOCHREALTIME
phase_started=$EPOCHREALTIME
phases=()
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
phase() {
  phases+=("$(printf '%-46s %6s s' "$1" "$(since "$phase_started")")")
  phase_started=$EPOCHREALTIME
}
image=sdgx-deb-test:bookworm
container="sdgx-deb-test-$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/sdgx-deb.XXXXXX")
teardown() {
  local rc=$?
  docker rm -f "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
  if docker ps -aq --filter "name=^$container\$" | grep -q .; then
    echo "deb test: container $container is left behind" >&2
    rc=1
  fi
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

bins=${SDGX_BIN_DIR:-}
if [ -z "$bins" ]; then
  bins="${CARGO_TARGET_DIR:-target}/debug"
  cargo build -p sdgx-agent -p sdgx-coordinator --bins --quiet
fi
echo "== deb test: packaging the binaries of $bins"
SDGX_BIN_DIR="$bins" scripts/deb-build.sh "$work/debs" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
phase "packages built (cargo-deb, no build)"
for deb in "$work"/debs/*.deb; do
  printf '   %-40s %6s KiB, installed %6s KiB\n' "$(basename "$deb")" "$(( $(stat -c %s "$deb") / 1024 ))" "$(dpkg-deb -f "$deb" Installed-Size)"
done

base=$(docker/local-base.sh)
phase "local base image ($base)"
docker build -q --build-arg BASE="$base" -t "$image" - <docker/deb-test.Dockerfile >"$work/image.log" 2>&1 \
  || { cat "$work/image.log" >&2; exit 1; }
phase "test image ($image)"

mounts=(-v "$work/debs:/debs:ro" -v "$PWD/tests/deb:/test:ro")
if [ "${SDGX_DEB_SYSTEMD:-1}" = 1 ]; then
  # systemd as the container's process 1, so that the units also run under it with their
  # sandboxing (it needs CAP_SYS_ADMIN, no seccomp filter of Docker's, and the host's cgroups).
  echo "== deb test: starting $container ($image, systemd as process 1, no network)"
  docker run -d --name "$container" --network none --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
    -v /sys/fs/cgroup:/sys/fs/cgroup:ro --tmpfs /run --tmpfs /run/lock "${mounts[@]}" "$image" /lib/systemd/systemd >/dev/null \
    || { echo "deb test: Docker refused the container systemd runs in (SDGX_DEB_SYSTEMD=0 tests without systemd)" >&2; exit 1; }
  deadline=$((SECONDS + 60))
  # `is-system-running --wait` returns once start-up is over: running, or degraded when a unit a
  # container cannot run (a mount, a kernel module) failed; neither of ours is started at boot.
  until state=$(docker exec "$container" systemctl is-system-running --wait 2>/dev/null); [[ "$state" =~ ^(running|degraded)$ ]]; do
    if [ $SECONDS -ge $deadline ] || [ "$(docker inspect -f '{{.State.Running}}' "$container" 2>/dev/null)" != true ]; then
      docker logs "$container" 2>&1 | tail -30 >&2
      echo "deb test: systemd did not start in $container (state: ${state:-none})" >&2
      exit 1
    fi
    sleep 0.5
  done
  phase "systemd running in the container ($state)"
  docker exec "$container" bash /test/installed.sh /debs --systemd
else
  echo "== deb test: installing in $container ($image, no systemd, no network)"
  docker run --rm --name "$container" --network none "${mounts[@]}" "$image" bash /test/installed.sh /debs
fi
phase "installed, started, removed in the container"
echo "== phases"
printf '   %s\n' "${phases[@]}"
echo "   total                                          $(since "$started") s"
