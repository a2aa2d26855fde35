# Shared by the compose tests (scripts/compose-test.sh, scripts/compose-system-test.sh); sourced,
# not run. Each test sets `root` (the checkout), `project` (its compose project name, which
# labels its containers, networks and volumes) and `work` (its work directory) and defines dc()
# (compose with its files) before sourcing it.

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  echo "compose test: needs docker compose or docker-compose" >&2
  exit 1
fi
python="${PROJECT_PYTHON:-$(bash scripts/venv.sh)}"
check() { "$python" tests/py/compose_check.py "$@"; }

started=$EPOCHREALTIME
phases=()
phase_started=$EPOCHREALTIME
# Records how long the phase that ends now took.
phase() {
  local now=$EPOCHREALTIME
  phases+=("$(printf '%-40s %6.1f s' "$1" "$(awk -v a="$phase_started" -v b="$now" 'BEGIN { print b - a }')")")
  phase_started=$now
}
print_phases() {
  echo "== phases"
  printf '   %s\n' "${phases[@]}"
  echo "   total                                    $(since "$started") s"
}
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "== $*"; }
fail() {
  echo "compose test: FAILED: $*" >&2
  exit 1
}

# Polls COMMAND until it succeeds, at most TIMEOUT seconds.
wait_for() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      fail "timed out after ${timeout}s waiting for $what"
    fi
    sleep 0.5
  done
}
# The container of a service (not of a one-off `run`).
cid() { docker ps -aq --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$1" --filter "label=com.docker.compose.oneoff=False"; }
healthy() {
  local s
  for s in "$@"; do
    [ "$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$(cid "$s")" 2>/dev/null)" = healthy ] || return 1
  done
}
# Evaluates a Python expression over the JSON document in FILE (as d); fails when it is false.
json() { "$python" -c 'import json, sys; d = json.load(open(sys.argv[1])); v = eval(sys.argv[2]); print(v if not isinstance(v, (dict, list)) else json.dumps(v)); sys.exit(1 if v is False or v is None else 0)' "$@"; }

# Tears the project down (containers, networks, volumes, the image it built) whatever happened;
# on failure prints the last lines of each service's log first. The EXIT trap of each test.
teardown() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ]; then
    echo "== logs of the last lines of each service (the test failed)" >&2
    dc logs --no-color --tail=40 2>&1 | tail -250 >&2
  fi
  dc down -v --remove-orphans --timeout 10 >"$work/down.log" 2>&1 || cat "$work/down.log" >&2
  docker image rm "$SDGX_IMAGE" >/dev/null 2>&1
  local left
  left=$(docker ps -aq --filter "label=com.docker.compose.project=$project"; docker volume ls -q --filter "label=com.docker.compose.project=$project"; docker network ls -q --filter "name=^${project}_")
  if [ -n "$left" ]; then
    echo "compose test: left behind after teardown: $left" >&2
    rc=1
  else
    echo "== torn down: no container, network or volume of $project is left"
  fi
  if [ "${SDGX_COMPOSE_KEEP:-0}" = 1 ]; then echo "   work directory kept: $work"; else rm -rf "$work"; fi
  return $rc
}

# Stages the image's build context and the examples copy the services read, and imports the
# local base image (SDGX_BASE); SDGX_IMAGE, SDGX_STAGING, SDGX_TEST_EXAMPLES and SDGX_BINARIES are
# set above, when this file is sourced.
# Builds no Rust in Docker: every service mounts the host's debug binaries read-only (the
# compose files), built here when missing with the same command as scripts/test.sh (unless
# SDGX_BIN_DIR names a directory of built ones).
export SDGX_IMAGE="sdgx:compose-$project"
export SDGX_STAGING="$work/staging" SDGX_TEST_EXAMPLES="$work/examples"
# SDGX_BIN_DIR (as for scripts/demo.sh): binaries built already, used as they are.
bin_dir=${SDGX_BIN_DIR:-}
unset SDGX_BIN_DIR
export SDGX_BINARIES="${bin_dir:-${CARGO_TARGET_DIR:-$root/target}/debug}"
[[ "$SDGX_BINARIES" = /* ]] || SDGX_BINARIES="$root/$SDGX_BINARIES"
stage() {
  [ -n "$bin_dir" ] || cargo test --workspace --no-run --quiet
  mkdir -p "$SDGX_STAGING/bin"
  # Not empty: the legacy builder fails to export the layer of an empty directory's COPY.
  echo "sdgx-coordinator and sdgx-agent are mounted here at run time (the compose files)" >"$SDGX_STAGING/bin/.mounted"
  cp docker/prebuilt.Dockerfile docker/pki-init.sh "$SDGX_STAGING/"
  mkdir -p "$SDGX_TEST_EXAMPLES"
  tar -C examples --exclude='federation/pki' --exclude='system/pki' --exclude='*/outbox' --exclude='*/out' -cf - . | tar -C "$SDGX_TEST_EXAMPLES" -xf -
  chmod -R a+rX "$SDGX_TEST_EXAMPLES"
  phase "build context staged"
  # Images of earlier runs that were killed before their teardown.
  local stale
  stale=$(docker images --format '{{.Repository}}:{{.Tag}}' 'sdgx' | grep '^sdgx:compose-sdgx' | grep -vx "$SDGX_IMAGE" || true)
  [ -z "$stale" ] || docker image rm $stale >/dev/null 2>&1 || true
  # The free space where images and the work directory live, for a failure's diagnosis.
  df -h "$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo /)" "$work" 2>/dev/null | sed 's/^/   /' || true
  SDGX_BASE=$(docker/local-base.sh)
  export SDGX_BASE
  phase "local base image ($SDGX_BASE)"
  say "building $SDGX_IMAGE from the host's binaries on $SDGX_BASE"
  dc build >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "docker build"; }
  phase "image built"
}
