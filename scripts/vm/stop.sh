#!/usr/bin/env bash
# Stop the test-bed VM started from a run directory, and only that one.
#   scripts/vm/stop.sh [RUN_DIR]            stop it (no error when none runs)
#   scripts/vm/stop.sh --running [RUN_DIR]  exit 0 when it runs, 1 when not
# The VM is identified by the pidfile qemu wrote in RUN_DIR, checked against the process's
# command line (a qemu using that run directory), so a stale pidfile never kills another process.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode=stop
if [ "${1:-}" = "--running" ]; then mode=check; shift; fi
RUN="${1:-${GPULAB_VM_RUN:-$HERE/../../.cache/vm/run}}"
[ -d "$RUN" ] && RUN="$(cd "$RUN" && pwd)"
PIDFILE="$RUN/qemu.pid"

ours() {  # the pid in the pidfile is a live qemu that uses this run directory
  [ -s "$PIDFILE" ] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "qemu-system-x86_64 .*$RUN/overlay.qcow2"
}

if [ "$mode" = check ]; then
  ours
  exit $?
fi
if ! ours; then
  rm -f "$PIDFILE"
  echo "vm-stop: no VM running from $RUN"
  exit 0
fi
pid="$(cat "$PIDFILE")"
kill -TERM "$pid"
# Wait for it to exit (tail --pid returns when the process ends), 10 s at most.
timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || true
if [ -d "/proc/$pid" ]; then
  kill -KILL "$pid"
fi
rm -f "$PIDFILE" "$RUN/monitor.sock"
echo "vm-stop: stopped the VM (pid $pid) from $RUN"
