#!/usr/bin/env bash
# Build TEST DOUBLE .deb packages that stand in for NVIDIA's, plus a flat apt repository index.
#
#   tests/doubles/nvidia_packages/build.sh OUTDIR
#
# NVIDIA's package repository and GPUs are out of reach in CI, so these packages carry the
# names of the real ones at a FAKE version and contain stand-in scripts, each labelled
# "TEST DOUBLE" inside. They let the roles' package, configuration and Docker wiring run for
# real; they do not drive a GPU.
#
# Container toolkit (version $NVIDIA_DOUBLE_TOOLKIT_VERSION, default 0.0.1-testdouble1):
#   libnvidia-container1, libnvidia-container-tools,
#   nvidia-container-toolkit-base (nvidia-ctk, nvidia-container-runtime),
#   nvidia-container-toolkit (nvidia-container-runtime-hook).
#   With the hook on dockerd's PATH when dockerd starts, dockerd registers its `nvidia` device
#   driver, so `docker run --gpus ...` requests pass through (the hook saves its stdin).
# Driver, Debian 12 names (version $NVIDIA_DOUBLE_DRIVER_VERSION, default 535.0.0-0testdouble1):
#   nvidia-driver, nvidia-smi (prints the real "couldn't communicate with the NVIDIA driver"
#   error, as on a host whose kernel module is not loaded), nvidia-persistenced (a systemd
#   unit running an idle stand-in daemon), firmware-misc-nonfree (empty).
#
# OUTDIR gets the .deb files, `Packages` and `Release`: usable as a local directory of .deb
# files or as `deb [trusted=yes] file:OUTDIR ./`. Needs dpkg-deb and sha256sum only.
set -euo pipefail

OUT="${1:?usage: $0 OUTDIR}"
TK_VERSION="${NVIDIA_DOUBLE_TOOLKIT_VERSION:-0.0.1-testdouble1}"
DRV_VERSION="${NVIDIA_DOUBLE_DRIVER_VERSION:-535.0.0-0testdouble1}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# package NAME VERSION DEPENDS DESCRIPTION [SRC:DEST[:MODE] ...]
package() {
  local name="$1" version="$2" depends="$3" description="$4"
  shift 4
  local root="$WORK/$name"
  mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$name"
  printf 'TEST DOUBLE of the %s package, built by tests/doubles/nvidia_packages/build.sh.\nIt drives no GPU.\n' \
    "$name" >"$root/usr/share/doc/$name/TEST-DOUBLE"
  local spec src dest mode
  for spec in "$@"; do
    IFS=: read -r src dest mode <<<"$spec"
    install -D -m "${mode:-0644}" "$HERE/files/$src" "$root$dest"
  done
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: all"
    echo "Maintainer: gpulab.dgx tests <tests@gpulab.invalid>"
    [ -n "$depends" ] && echo "Depends: $depends"
    echo "Section: misc"
    echo "Priority: optional"
    echo "Description: TEST DOUBLE: $description"
    echo " Stand-in for NVIDIA's package of the same name; contains no NVIDIA software."
  } >"$root/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$root" "$OUT/${name}_${version}_all.deb" >/dev/null
}

package libnvidia-container1 "$TK_VERSION" "" "NVIDIA container runtime library"
package libnvidia-container-tools "$TK_VERSION" "libnvidia-container1 (= $TK_VERSION)" \
  "NVIDIA container runtime library (command-line tools)"
package nvidia-container-toolkit-base "$TK_VERSION" "" "NVIDIA Container Toolkit Base" \
  nvidia-ctk:/usr/bin/nvidia-ctk:0755 \
  nvidia_ctk.py:/usr/lib/gpulab-test-double/nvidia_ctk.py:0644 \
  nvidia-container-runtime:/usr/bin/nvidia-container-runtime:0755 \
  config.toml:/etc/nvidia-container-runtime/config.toml:0644
package nvidia-container-toolkit "$TK_VERSION" \
  "nvidia-container-toolkit-base (= $TK_VERSION), libnvidia-container-tools (>= $TK_VERSION)" \
  "NVIDIA Container toolkit" \
  nvidia-container-runtime-hook:/usr/bin/nvidia-container-runtime-hook:0755

package nvidia-driver "$DRV_VERSION" "" "NVIDIA metapackage"
package nvidia-smi "$DRV_VERSION" "" "NVIDIA System Management Interface" \
  nvidia-smi:/usr/bin/nvidia-smi:0755
package nvidia-persistenced "$DRV_VERSION" "" "daemon to maintain persistent software state in the NVIDIA driver" \
  nvidia-persistenced:/usr/bin/nvidia-persistenced:0755 \
  nvidia-persistenced.service:/lib/systemd/system/nvidia-persistenced.service:0644
package firmware-misc-nonfree "$DRV_VERSION" "" "Binary firmware for various drivers"

# Flat repository index (what dpkg-scanpackages would write), without extra tools.
(
  cd "$OUT"
  : >Packages
  for deb in ./*.deb; do
    {
      dpkg-deb -f "$deb"
      echo "Filename: $deb"
      echo "Size: $(stat -c %s "$deb")"
      echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
      echo
    } >>Packages
  done
  {
    echo "Origin: gpulab.dgx TEST DOUBLE"
    echo "Label: gpulab.dgx TEST DOUBLE of NVIDIA packages"
    echo "Date: $(LC_ALL=C date -u -d @0 '+%a, %d %b %Y %H:%M:%S UTC')"
    echo "SHA256:"
    echo " $(sha256sum Packages | cut -d' ' -f1) $(stat -c %s Packages) Packages"
  } >Release
)
echo "built TEST DOUBLE packages in $OUT:"
ls -1 "$OUT"
