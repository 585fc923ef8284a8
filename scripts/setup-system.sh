#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the project's set-up and tests need.
# Idempotent: packages already present are not reinstalled.
set -euo pipefail

PACKAGES=(
  docker.io apparmor xfsprogs mdadm debootstrap qemu-system-x86 qemu-utils
  openssh-client rsync make e2fsprogs iproute2 ca-certificates python3-venv shellcheck
  prometheus-node-exporter prometheus
  libxml2-utils librsvg2-bin  # xmllint and rsvg-convert: the allocation map tests check and render its SVG
  slurmd  # `slurmd -G` parses the gres.conf role slurm_gres writes (no controller, munge or service needed)
)
# Services Debian starts when these packages are installed on a host where systemd runs. The tests
# start their own node_exporter on loopback and need only promtool from `prometheus`: what this run's
# install started is stopped and disabled again; units of packages already present are left alone.
declare -A STARTED_BY_INSTALL=(
  [prometheus]=prometheus.service
  [prometheus-node-exporter]=prometheus-node-exporter.service
  [slurmd]="slurmd.service munge.service"
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-system: all system packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup-system: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

if [ -d /run/systemd/system ]; then
  for pkg in "${missing[@]}"; do
    unit="${STARTED_BY_INSTALL[$pkg]:-}"
    [ -n "$unit" ] || continue
    echo "setup-system: stopping and disabling $unit (started by installing $pkg; the tests run their own)"
    # shellcheck disable=SC2086  # a package may start more than one unit
    $SUDO systemctl disable --now $unit || true
  done
fi
