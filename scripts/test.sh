#!/usr/bin/env bash
# Runs the whole sdgx test suite: unit, integration, sqllogictest, end-to-end and interop tests.
# Usage: scripts/test.sh            (from anywhere; needs the Rust toolchain, Python 3 and PyPI)
set -euo pipefail
cd "$(dirname "$0")/.."
# The third-party clients (pyarrow, ADBC, moto's S3 server, DuckDB) live in the project's venv;
# the variable names avoid the SDGX_ prefix, which the binaries read as configuration.
PROJECT_PYTHON="$(bash scripts/venv.sh)"
export PROJECT_PYTHON
# Debian packages the tests drive: a throwaway PostgreSQL server (the database source tests),
# Chromium with its WebDriver (the report and dashboard tests), NSS's certutil (the dashboard
# over TLS: the test CA trusted in Chromium's NSS database), and LibreOffice with poppler and
# Carlito, the font metric-compatible with the annex's Calibri (the annex printed to PDF, its
# pages counted and drawn).
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
command -v certutil >/dev/null || need+=(libnss3-tools)
command -v soffice >/dev/null || need+=(libreoffice-calc-nogui)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
[ -e /usr/share/fonts/truetype/crosextra/Carlito-Regular.ttf ] || need+=(fonts-crosextra-carlito)
if [ ${#need[@]} -gt 0 ]; then
  sudo=$( [ "$(id -u)" = 0 ] || echo sudo )
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Build everything once, with one feature set: `cargo test --no-run` compiles the test targets
# and the binaries the end-to-end tests start (cargo builds a package's binaries for its
# integration tests and copies them to <target>/debug). A separate `cargo build --bins` resolves
# features without the dev-dependencies (flatbuffers' std, for one, under arrow-ipc), so from
# cold it would compile arrow, DataFusion and Delta a second time. Everything after the tests
# runs these same binaries and builds nothing.
cargo test --workspace --no-run
bins="${CARGO_TARGET_DIR:-target}/debug"
cargo test --workspace --no-fail-fast
# The README's main job, the demo, one nation and three levels, on the binaries built above.
demo() {
  local log
  log=$(mktemp)
  SDGX_BIN_DIR="$bins" scripts/demo.sh "$@" >"$log" 2>&1 || { tail -60 "$log"; echo "scripts/demo.sh $* failed" >&2; exit 1; }
  echo "scripts/demo.sh${*:+ $*}: $(grep '^== done' "$log")"
  rm -f "$log"
}
demo
demo --system
# The containers: the example federation in docker-compose.yml under faults (the coordinator
# killed mid-burst, an agent cut off the network, everything restarted); it builds its image
# from the binaries built above, on a base made locally, so it needs Docker but no registry.
SDGX_BIN_DIR="$bins" scripts/compose-test.sh
# The system of systems in containers: two nations and a region (each its own CA, mutual TLS
# between levels, the region's store on an S3-compatible server with two read replicas) under
# faults (a nation killed mid-delivery, a nation-region link cut, everything restarted).
SDGX_BIN_DIR="$bins" scripts/compose-system-test.sh
# The Debian packages: both .deb made from the binaries built above (no release build),
# installed with dpkg in a container of the same local base, each unit's command line started
# as its user, then the units under systemd (the coordinator answering on /health, the agent
# publishing to it), upgraded, removed and purged.
SDGX_BIN_DIR="$bins" scripts/deb-test.sh
