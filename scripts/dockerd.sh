#!/usr/bin/env bash
# Start a Docker daemon for the tests when none answers, and wait until it is usable.
#   scripts/dockerd.sh start   start dockerd (only when `docker info` fails) and wait for it
#   scripts/dockerd.sh check   exit non-zero unless dockerd answers and the docker0 bridge exists
set -euo pipefail

LOG="${DOCKERD_LOG:-/var/log/gpulab-dockerd.log}"

ready() {
  docker info >/dev/null 2>&1 && ip link show docker0 >/dev/null 2>&1
}

# The default bridge has been seen to vanish from a running daemon on these machines (containers
# then fail with "could not find bridge docker0"). dockerd only creates it at start, so recreate
# it with the address of the daemon's own `bridge` network instead of restarting the daemon.
repair_bridge() {
  local subnet gateway
  subnet="$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}')"
  gateway="$(python3 -c 'import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); print("%s/%d" % (next(n.hosts()), n.prefixlen))' "$subnet")"
  echo "dockerd: the docker0 bridge is missing; recreating it as $gateway" >&2
  ip link add docker0 type bridge
  ip addr add "$gateway" dev docker0
  ip link set docker0 up
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
      repair_bridge
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
