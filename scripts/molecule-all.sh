#!/usr/bin/env bash
# Run every molecule scenario under molecule/ (full sequence: check, converge, idempotence, verify).
#
# Scenarios run side by side, GPULAB_MOLECULE_JOBS at a time (default 2): each has its own instance,
# network and ephemeral directory (.config/molecule/config.yml), and much of a scenario's time is spent
# waiting on apt and systemd inside its instance. Each scenario's output goes to its own log
# ($GPULAB_MOLECULE_LOGS, default .cache/molecule-logs/<scenario>.log), printed whole when it ends.
# Fails when any scenario fails (every scenario still runs), or when there is none.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs="${GPULAB_MOLECULE_JOBS:-2}"
logs="${GPULAB_MOLECULE_LOGS:-$PWD/.cache/molecule-logs}"
case "$jobs" in ''|*[!0-9]*|0) echo "GPULAB_MOLECULE_JOBS: '$jobs' is not a positive whole number" >&2; exit 2 ;; esac
scenarios=()
for d in molecule/*/; do
  [ -f "$d/molecule.yml" ] && scenarios+=("$(basename "$d")")
done
if [ "${#scenarios[@]}" -eq 0 ]; then
  echo "molecule: no scenarios found" >&2
  exit 1
fi
mkdir -p "$logs"

# One scenario: its log, then a line with its result. Prints the log whole, so outputs never interleave.
run_one() {
  local s="$1" log="$logs/$1.log" start rc=0
  start=$(date +%s)
  molecule test -s "$s" >"$log" 2>&1 || rc=$?
  # One write per scenario (cat of a whole file), under a lock, so two logs never mix.
  {
    flock 9
    echo "=== molecule scenario: $s"
    cat "$log"
    echo "=== molecule scenario: $s: exit $rc after $(( $(date +%s) - start )) s"
  } 9>"$logs/.print.lock"
  return "$rc"
}
failed=0
pids=()
for s in "${scenarios[@]}"; do
  # At most $jobs at once: wait for any one to end before starting the next (statuses are read below).
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$s" &
  pids+=("$!")
done
# bash keeps each ended job's status, so every scenario's exit is read here, whenever it ended.
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if [ "$failed" -ne 0 ]; then
  echo "molecule: a scenario failed (see its '=== molecule scenario: ...: exit N' line)" >&2
  exit 1
fi
echo "molecule: ${#scenarios[@]} scenario(s) passed"
