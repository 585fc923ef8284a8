#!/usr/bin/env bash
# Start a Docker daemon for the tests when none answers, and wait until it is usable.
#   scripts/dockerd.sh start   start dockerd (only when `docker info` fails) and wait for it
#   scripts/dockerd.sh check   exit non-zero unless dockerd answers and the docker0 bridge exists
set -euo pipefail

LOG="${DOCKERD_LOG:-/var/log/gpulab-dockerd.log}"

ready() {
  docker info >/dev/null 2>&1 && ip link show docker0 >/dev/null 2>&1
}

case "${1:-start}" in
  check)
    ready
    ;;
  start)
    if ready; then
      echo "dockerd: already running"
      exit 0
    fi
    if docker info >/dev/null 2>&1 && ! ip link show docker0 >/dev/null 2>&1; then
      # It vanished once: a test dockerd started with --bridge none deletes the host's docker0.
      # The GPU test dockerd now runs in its own network namespace; nothing here re-creates it.
      echo "dockerd: answers, but its docker0 bridge is missing (did something start a second dockerd" \
           "with --bridge none in this network namespace?); restart dockerd" >&2
      exit 1
    fi
    if ! docker info >/dev/null 2>&1; then
      if pgrep -x dockerd >/dev/null; then
        echo "dockerd: a dockerd process exists but does not answer; see $LOG" >&2
      else
        nohup dockerd >"$LOG" 2>&1 &
      fi
    fi
    # Poll the daemon (not a fixed sleep): up to 60 s.
    for _ in $(seq 1 120); do
      if ready; then
        echo "dockerd: ready"
        exit 0
      fi
      timeout 0.5 tail -n 0 -f "$LOG" >/dev/null 2>&1 || true
    done
    echo "dockerd: did not become ready; last log lines:" >&2
    tail -n 30 "$LOG" >&2 || true
    exit 1
    ;;
  *)
    echo "usage: $0 start|check" >&2
    exit 2
    ;;
esac
