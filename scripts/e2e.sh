#!/usr/bin/env bash
# End-to-end suite on the fresh-DGX test-bed VM (docs/testbed.md): builds or reuses the cached
# VM image, boots one VM for the whole suite, runs tests/e2e and stops the VM.
# Fails when any test fails or errors, and when no test ran at all (all skipped or none collected).
#   scripts/e2e.sh [PYTEST ARGS...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$PWD/.collections}"
export ANSIBLE_ROLES_PATH="${ANSIBLE_ROLES_PATH:-$PWD/roles}"
RUN="${GPULAB_E2E_RUN:-$PWD/.cache/vm/e2e}"
mkdir -p "$RUN"
report="$RUN/junit.xml"
rm -f "$report"
start=$(date +%s)
rc=0
pytest -p no:cacheprovider -v --durations=0 --junitxml="$report" tests/e2e "$@" || rc=$?
echo "e2e: finished in $(( $(date +%s) - start )) s (pytest exit $rc)"
[ "$rc" -eq 0 ] || exit "$rc"
# pytest exits 0 when every test was skipped: that is not a pass.
python3 - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
ran = int(suite.get("tests")) - int(suite.get("skipped"))
if ran <= 0:
    sys.exit("e2e: no test ran")
print("e2e: %d test(s) ran" % ran)
PY
