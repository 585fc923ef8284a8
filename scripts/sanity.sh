#!/usr/bin/env bash
# Run `ansible-test sanity` on a copy of the collection at a real path outside the
# work tree (SANITY_ROOT, default ~/.cache/gpulab-sanity), so that ansible-test neither follows
# symlinks nor skips files the repository ignores.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${SANITY_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/gpulab-sanity}/ansible_collections/gpulab/dgx"
PY="${SANITY_PYTHON:-3.11}"

# ansible-test --venv bootstraps pip from a downloaded script; give it a local stand-in that
# uses ensurepip instead (the download host is out of reach in CI and air-gapped sites).
GETPIP="$HOME/.ansible/test/cache/get_pip_24_2.py"
if [ ! -s "$GETPIP" ]; then
  mkdir -p "$(dirname "$GETPIP")"
  cat >"$GETPIP" <<'PY'
"""Local stand-in for get-pip.py: install pip from the interpreter's bundled wheel."""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + [a for a in sys.argv[1:] if not a.startswith("-")])
PY
fi

mkdir -p "$DEST"
rsync -a --delete \
  --exclude .venv --exclude .collections --exclude .build --exclude .cache --exclude .git \
  --exclude tests/output --exclude __pycache__ --exclude .hypothesis --exclude .pytest_cache --exclude .handoff \
  "$HERE/" "$DEST/"
rm -rf "$DEST/.hypothesis"  # an example database from local test runs is not part of the collection
cd "$DEST"
ansible-test sanity --venv --python "$PY" "$@"
