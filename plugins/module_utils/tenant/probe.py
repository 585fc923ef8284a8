# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The in-container probe: a POSIX sh program that prints, as one JSON object, what the container it
runs in was given (GPUs a login sees, cpuset, CPU quota, memory limit, sizes of / and /dev/shm,
rlimits, whether sshd listens). verify.py runs it through Docker's exec API as `sh -c PROBE_SCRIPT`;
tests/unit/tenant/test_probe_script.py runs shellcheck on it."""

from __future__ import annotations

PROBE_SCRIPT = r"""# shellcheck shell=sh
# Read, from inside a tenant container, what it was given; print one JSON object.
# Runs under any POSIX sh (sh -c THIS); cgroup v1 or v2.
# sshd listening on port 22 (0016 hex), state 0A (LISTEN), IPv4 or IPv6. Read first: the entrypoint
# writes /etc/profile.d/gpulab-env.sh before it starts sshd, so once sshd listens, what follows is
# read complete (read the other way round, a probe could miss the file, then read PID 1's environment
# after sshd overwrote it).
if cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$2 ~ /:0016$/ && $4 == "0A" {found=1} END {exit !found}'; then
  sshd=yes
else
  sshd=no
fi
# What an SSH login sees (the image's entrypoint writes the container environment there);
# /proc/1/environ is a fallback only: sshd overwrites it when it sets its process title.
visible=$(sed -n "s/^export NVIDIA_VISIBLE_DEVICES='\(.*\)'$/\1/p" /etc/profile.d/gpulab-env.sh 2>/dev/null | head -n 1)
if [ -z "$visible" ]; then
  visible=$(tr '\0' '\n' </proc/1/environ 2>/dev/null | sed -n 's/^NVIDIA_VISIBLE_DEVICES=//p' | head -n 1)
fi
if command -v nvidia-smi >/dev/null 2>&1; then
  smi=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
  smi_mig=$(nvidia-smi -L 2>/dev/null | grep -c '^ *MIG ')
else
  smi=absent
  smi_mig=absent
fi
# GPU device nodes: a container given more than its GPUs (privileged, a /dev bind) sees more of them.
gpu_nodes=0
for node in /dev/nvidia[0-9] /dev/nvidia[0-9][0-9]; do
  [ -c "$node" ] && gpu_nodes=$((gpu_nodes + 1))
done
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  cpuset=$(cat /sys/fs/cgroup/cpuset.cpus.effective 2>/dev/null)
  read -r quota period </sys/fs/cgroup/cpu.max 2>/dev/null
  [ "$quota" = max ] && quota=-1
  memory=$(cat /sys/fs/cgroup/memory.max 2>/dev/null)
  [ "$memory" = max ] && memory=-1
else
  cpuset=$(cat /sys/fs/cgroup/cpuset/cpuset.cpus 2>/dev/null)
  quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us)
  period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cat /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us)
  memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null)
fi
root_size=$(df -P -B1 / 2>/dev/null | awk 'NR==2 {print $2}')
root_human=$(df -h / 2>/dev/null | awk 'NR==2 {print $2}')
# /dev/shm in bytes; locked memory and stack as `ulimit` prints them (KiB, or "unlimited"): the
# container's rlimits, which docker exec and every login (sshd's children) inherit.
shm_size=$(df -P -B1 /dev/shm 2>/dev/null | awk 'NR==2 {print $2}')
# ulimit -l and -s are not POSIX, but dash, bash and busybox sh all have them.
# shellcheck disable=SC3045
memlock=$(ulimit -l 2>/dev/null)
# shellcheck disable=SC3045
stack=$(ulimit -s 2>/dev/null)
fmt='{"nvidia_visible_devices": "%s", "nvidia_smi_gpus": "%s", "nvidia_smi_mig": "%s", "gpu_nodes": "%s", '
fmt="$fmt"'"cpuset": "%s", "cpu_quota": "%s", '
fmt="$fmt"'"cpu_period": "%s", "memory_limit": "%s", "root_size": "%s", "root_size_human": "%s", '
fmt="$fmt"'"shm_size": "%s", "memlock_kib": "%s", "stack_kib": "%s", "sshd_listening": "%s"}\n'
# shellcheck disable=SC2059
printf "$fmt" "$visible" "$smi" "$smi_mig" "$gpu_nodes" "$cpuset" "${quota:-}" "${period:-}" "$memory" "$root_size" "$root_human" \
  "$shm_size" "$memlock" "$stack" "$sshd"
"""
