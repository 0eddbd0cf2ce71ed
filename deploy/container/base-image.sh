#!/usr/bin/env bash
# Makes the base image the Dockerfile builds FROM where no image registry is reachable:
# localhost/gatewatch-base:bookworm, a minbase debootstrap of Debian 12 from the mirror apt already uses.
# Reused when it exists (podman image exists), so only the first run pays for it (~40 s).
#
#   deploy/container/base-image.sh [IMAGE]     (default localhost/gatewatch-base:bookworm; root only)
set -euo pipefail
image=${1:-localhost/gatewatch-base:bookworm}
exec 9>/tmp/gatewatch-base-image.lock
flock 9  # two concurrent callers must not debootstrap twice
if podman image exists "$image"; then
  exit 0
fi
# The mirror apt is configured with (deb822 sources first, then the classic list).
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
  grep -v security | head -n 1 || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list \
    /etc/apt/sources.list.d/*.list 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
dir=$(mktemp -d /tmp/gatewatch-debootstrap.XXXXXX)
trap 'rm -rf "$dir"' EXIT
debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 || {
  tail -n 20 "$dir.log" >&2
  exit 1
}
rm -f "$dir.log"
# Slim like debian:12-slim: no package lists (the Dockerfile runs apt-get update), no docs, man
# pages or translations.
rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb "$dir"/usr/share/doc/* \
  "$dir"/usr/share/man/* "$dir"/usr/share/locale/* "$dir"/usr/share/info/*
tar -C "$dir" -c . | podman import --quiet - "$image" >/dev/null
