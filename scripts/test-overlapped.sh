#!/usr/bin/env bash
# The long half of `make test`: the end-to-end suite on the test-bed VM in the foreground and, beside it,
# the integration tests then the molecule scenarios (one at a time), which use the CPU time the VM leaves.
# The VM's qemu runs at a higher priority (GPULAB_VM_NICE, default -5) and the side jobs at +5: about 9:1 in
# CPU share, so the emulated guest, the long pole, keeps its pace without starving the side tests (their waits
# have deadlines). The side jobs write to .cache/side-tests.log, printed whole when they end (so outputs never
# interleave). Fails when either side failed; both always run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
side_log="${GPULAB_SIDE_LOG:-$PWD/.cache/side-tests.log}"
mkdir -p "$(dirname "$side_log")"
start=$(date +%s)
export GPULAB_VM_NICE="${GPULAB_VM_NICE:--5}"
(
  renice -n 5 -p "$BASHPID" >/dev/null
  rc=0
  make --no-print-directory integration || rc=$?
  GPULAB_MOLECULE_JOBS="${GPULAB_MOLECULE_JOBS:-1}" make --no-print-directory molecule || rc=$?
  exit "$rc"
) >"$side_log" 2>&1 &
side=$!
e2e_rc=0
make --no-print-directory e2e || e2e_rc=$?
echo "test: e2e ended (exit $e2e_rc) after $(( $(date +%s) - start )) s; waiting for integration and molecule"
side_rc=0
wait "$side" || side_rc=$?
echo "=== integration and molecule (exit $side_rc), after $(( $(date +%s) - start )) s:"
cat "$side_log"
echo "=== integration and molecule: exit $side_rc"
[ "$e2e_rc" -eq 0 ] && [ "$side_rc" -eq 0 ]
