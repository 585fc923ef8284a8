#!/usr/bin/env bash
# Build the local Debian 12 base images with debootstrap + `docker import` (no registry needed):
#   gpulab/debian12:latest          python3, sudo, sshd; CMD sleep infinity
#   gpulab/debian12-systemd:latest  the same with systemd as PID 1 (molecule instances)
# Each image carries a content key (label gpulab.base-key) computed from this script, the
# package list and the mirror; when the key matches, the build is skipped (seconds).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE="${GPULAB_BASE_SUITE:-bookworm}"
MIRROR="${GPULAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE="${GPULAB_BASE_IMAGE:-gpulab/debian12}"
SYSTEMD="${GPULAB_SYSTEMD_IMAGE:-gpulab/debian12-systemd}"
PKGS="$(grep -v '^#' "$HERE/images/base/packages.txt" | xargs | tr ' ' ',')"

KEY="$(cat "$HERE/scripts/build-base-images.sh" "$HERE/images/base/packages.txt" \
        "$HERE/images/base/Dockerfile.systemd" <(echo "$SUITE $MIRROR") | sha256sum | cut -c1-16)"

image_key() {
  docker image inspect -f '{{ index .Config.Labels "gpulab.base-key" }}' "$1" 2>/dev/null || true
}

if [ "$(image_key "$BASE:latest")" != "$KEY" ]; then
  ROOT="$(mktemp -d /var/tmp/gpulab-rootfs.XXXXXX)"
  trap 'rm -rf "$ROOT"' EXIT
  echo "base-images: debootstrap $SUITE into $ROOT"
  debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$ROOT" "$MIRROR" >/dev/null
  # Keep images small and free of host keys: sshd keys are made when a container first needs them.
  rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/etc/ssh/ssh_host_*
  echo "deb $MIRROR $SUITE main" > "$ROOT/etc/apt/sources.list"
  tar -C "$ROOT" -c . | docker import \
      --change 'CMD ["sleep","infinity"]' \
      --change "LABEL gpulab.base-key=$KEY" \
      - "$BASE:$KEY" >/dev/null
  docker tag "$BASE:$KEY" "$BASE:latest"
  echo "base-images: built $BASE:latest ($KEY)"
else
  echo "base-images: $BASE:latest is current ($KEY)"
fi

if [ "$(image_key "$SYSTEMD:latest")" != "$KEY" ]; then
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$BASE:$KEY" \
      --label "gpulab.base-key=$KEY" \
      -t "$SYSTEMD:latest" -f "$HERE/images/base/Dockerfile.systemd" "$HERE/images/base" >/dev/null
  echo "base-images: built $SYSTEMD:latest ($KEY)"
else
  echo "base-images: $SYSTEMD:latest is current ($KEY)"
fi
