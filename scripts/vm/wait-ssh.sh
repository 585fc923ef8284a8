#!/usr/bin/env bash
# Wait until the test-bed VM answers SSH and systemd has finished booting, with a deadline.
#   scripts/vm/wait-ssh.sh RUN_DIR [TIMEOUT_S] [NOT_BOOT_ID]
# With NOT_BOOT_ID, also wait until the guest's boot id differs from it (after a reboot).
set -euo pipefail
RUN="$1"
TIMEOUT="${2:-300}"
OLD_BOOT="${3:-}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  if ! "$HERE/stop.sh" --running "$RUN"; then
    echo "wait-ssh: qemu exited; last console lines:" >&2
    tail -n 30 "$RUN/console.log" >&2 || true
    exit 1
  fi
  # `systemctl is-system-running --wait` blocks until boot is over (running or degraded). Right after
  # `systemctl reboot` this may reach the old system while it shuts down, whose connection then dies
  # without a word under qemu's user network: keep-alives end such an attempt, and each attempt has a limit.
  if boot="$(timeout 180 ssh -F "$RUN/ssh_config" -o ConnectTimeout=5 -o BatchMode=yes \
        -o ServerAliveInterval=5 -o ServerAliveCountMax=3 gpulab-dgx-vm \
        'systemctl is-system-running --wait >/dev/null 2>&1; cat /proc/sys/kernel/random/boot_id' 2>/dev/null)" \
     && [ -n "$boot" ] && [ "$boot" != "$OLD_BOOT" ]; then
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "wait-ssh: no SSH after ${TIMEOUT} s; last console lines:" >&2
    tail -n 30 "$RUN/console.log" >&2 || true
    exit 1
  fi
  # Pace the polling on the console log growing (or 2 s), not on a fixed sleep.
  timeout 2 tail -n 0 -f "$RUN/console.log" >/dev/null 2>&1 || true
done
