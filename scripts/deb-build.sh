#!/usr/bin/env bash
# Builds the Debian packages sdgx-agent and sdgx-coordinator with cargo-deb (the metadata is
# `[package.metadata.deb]` in agent/Cargo.toml and coordinator/Cargo.toml; the units, the
# maintainer script and the configurations installed in /etc/sdgx are in packaging/deb/).
#   scripts/deb-build.sh [OUT_DIR]     (default: ${CARGO_TARGET_DIR:-target}/debian)
# Without SDGX_BIN_DIR: release packages, built with `cargo build --release` (what an agency
# installs; the first release build of DataFusion takes about 15 minutes on 2 cores).
# With SDGX_BIN_DIR=DIR: packages the sdgx-agent and sdgx-coordinator already built in DIR as
# they are (stripped, lighter compression), building nothing: scripts/deb-test.sh packages the
# debug binaries the tests built, so CI pays for no release build.
# Installs cargo-deb (the pinned version below) into ~/.cargo/bin when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo_deb_version=3.8.0
out="${1:-${CARGO_TARGET_DIR:-target}/debian}"
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $cargo_deb_version" ]; then
  echo "== installing cargo-deb $cargo_deb_version" >&2
  # In a temporary target directory of its own, not the workspace's (nor its lock).
  env -u CARGO_TARGET_DIR cargo install cargo-deb --version "$cargo_deb_version" --locked --quiet
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
packages=(sdgx-agent sdgx-coordinator)
if [ -z "${SDGX_BIN_DIR:-}" ]; then
  cargo build --release --locked -p sdgx-agent -p sdgx-coordinator
  for p in "${packages[@]}"; do
    cargo deb --no-build --locked -p "$p" --output "$out/"
  done
else
  bins=$(cd "$SDGX_BIN_DIR" && pwd)
  # cargo-deb takes the binaries from its target directory's profile folder (target/debug for
  # the dev profile): a target directory of its own whose debug/ links to the binaries given.
  target=$(mktemp -d "${TMPDIR:-/tmp}/sdgx-deb-target.XXXXXX")
  trap 'rm -rf "$target"' EXIT
  mkdir "$target/debug"
  for p in "${packages[@]}"; do
    [ -x "$bins/$p" ] || { echo "deb-build: no executable $bins/$p" >&2; exit 1; }
    ln -s "$bins/$p" "$target/debug/$p"
  done
  for p in "${packages[@]}"; do
    # cargo-deb warns that the dev profile is meant for development, not releases: it is.
    CARGO_TARGET_DIR="$target" cargo deb --no-build -p "$p" --profile dev --strip --fast --output "$out/" 2> >(grep -v 'dev profile is not supported\|To enable debug symbols set' >&2)
  done
fi

