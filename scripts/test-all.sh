#!/usr/bin/env bash
# `make test`: lint, sanity and unit tests while the test-bed VM's image is built (or found in the cache)
# and the VM boots in the background (the image build and the emulated boot take about 5 minutes, the
# checks about 3: run side by side, neither waits for the other); then scripts/test-overlapped.sh runs the
# end-to-end suite on that VM (GPULAB_E2E_REUSE, stopped at the end) beside integration and molecule.
# If the early boot failed, its log is printed and the e2e suite boots a VM itself. Fails on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export GPULAB_E2E_RUN="${GPULAB_E2E_RUN:-$PWD/.cache/vm/e2e}"
export GPULAB_VM_NICE="${GPULAB_VM_NICE:--5}"
mkdir -p "$GPULAB_E2E_RUN"
boot_log="$GPULAB_E2E_RUN/early-boot.log"
start=$(date +%s)
booted=0
if scripts/vm/stop.sh --running "$GPULAB_E2E_RUN"; then
  echo "test: stopping the VM already running from $GPULAB_E2E_RUN: the suite starts from a fresh one" >&2
  scripts/vm/stop.sh "$GPULAB_E2E_RUN"
fi
GPULAB_VM_RUN="$GPULAB_E2E_RUN" scripts/vm/boot.sh >"$boot_log" 2>&1 &
boot=$!
rc=0
make --no-print-directory lint sanity unit dockerd || rc=$?
echo "test: lint, sanity and unit ended (exit $rc) after $(( $(date +%s) - start )) s; waiting for the VM's boot"
if wait "$boot"; then
  booted=1
  echo "test: the VM booted in the background, ready after $(( $(date +%s) - start )) s"
else
  echo "test: the early boot of the VM failed (its log follows); the e2e suite boots one itself" >&2
  cat "$boot_log" >&2
fi
if [ "$rc" -ne 0 ]; then
  scripts/vm/stop.sh "$GPULAB_E2E_RUN" || true
  exit "$rc"
fi
if [ "$booted" -eq 1 ]; then
  export GPULAB_E2E_REUSE=1 GPULAB_E2E_STOP=1
fi
scripts/test-overlapped.sh
