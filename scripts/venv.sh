#!/usr/bin/env bash
# Creates (or refreshes) the project's Python virtualenv with the pinned third-party clients
# the tests and benchmarks use (scripts/requirements.txt), and prints its python's path.
# Usage: scripts/venv.sh            (PROJECT_VENV overrides the location; default ./.venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${PROJECT_VENV:-$PWD/.venv}"
req=scripts/requirements.txt
stamp="$venv/.sdgx-requirements"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if ! cmp -s "$req" "$stamp"; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  cp "$req" "$stamp"
fi
echo "$venv/bin/python"
