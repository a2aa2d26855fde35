#!/usr/bin/env bash
# Creates a local Debian 12 (bookworm) base image for machines whose Docker cannot pull from a
# registry: a minimal root filesystem assembled on the host with debootstrap, then
# `docker import`ed. The compose test (scripts/compose-test.sh) builds the sdgx images on it
# through docker/compose.local.yml; real deployments use docker/Dockerfile and the standard
# images instead.
#   docker/local-base.sh [IMAGE]      (default sdgx-local-base:bookworm; prints the image name)
# The root filesystem is cached as a tarball under ${XDG_CACHE_HOME:-$HOME/.cache}/sdgx/, so
# a repeat run (even after `docker system prune`) only imports it. Needs root (debootstrap) and
# Debian's packages (apt-get installs debootstrap when it is missing).
set -euo pipefail
image="${1:-sdgx-local-base:bookworm}"
mirror="${SDGX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/sdgx"
tarball="$cache/debian-bookworm-minbase.tar"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
if [ ! -s "$tarball" ]; then
  sudo=$( [ "$(id -u)" = 0 ] || echo sudo )
  if ! command -v debootstrap >/dev/null; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  fi
  mkdir -p "$cache"
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap '$sudo rm -rf "$rootfs"' EXIT
  echo "debootstrap --variant=minbase bookworm (once; cached in $tarball) ..." >&2
  $sudo debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  # What a container does not need: package caches and lists, documentation, locales.
  $sudo rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/tmp/*
  $sudo tar -C "$rootfs" --numeric-owner -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
fi
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  "$tarball" "$image" >/dev/null
echo "$image"
