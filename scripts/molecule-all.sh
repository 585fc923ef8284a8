#!/usr/bin/env bash
# Run every molecule scenario under molecule/ (full sequence: check, converge, idempotence, verify).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scenarios=()
for d in molecule/*/; do
  [ -f "$d/molecule.yml" ] && scenarios+=("$(basename "$d")")
done
if [ "${#scenarios[@]}" -eq 0 ]; then
  echo "molecule: no scenarios found" >&2
  exit 1
fi
for s in "${scenarios[@]}"; do
  echo "=== molecule scenario: $s"
  molecule test -s "$s"
done
