#!/usr/bin/env bash
# Real-GPU smoke check for a host with NVIDIA GPUs (run it where `nvidia-smi` works).
#
#   scripts/gpu-smoke.sh [REPORT_FILE]
#
# Reads the GPUs through NVML (pynvml) and through nvidia-smi text and compares them (count,
# NUMA nodes, links), reads the driver facts both ways, and, where Docker answers with the
# NVIDIA runtime hook installed and an image with nvidia-smi is present (GPULAB_SMOKE_IMAGE,
# default nvidia/cuda:12.4.1-base-ubuntu22.04; nothing is pulled), rolls out one 1-GPU tenant
# with the tenant module's own code and checks from inside that `nvidia-smi -L` lists exactly
# its GPU and that shm and memlock are as set; then removes it. Prints a short report; exits 1
# when a check that could run failed. Needs only Python 3 and the collection's module_utils
# (no Ansible), so it runs on a bare GPU machine; the tenant step needs the Docker SDK.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ansible_collections/gpulab"
ln -s "$root" "$work/ansible_collections/gpulab/dgx"
PYTHONPATH="$work${PYTHONPATH:+:$PYTHONPATH}" exec python3 "$root/scripts/gpu_smoke.py" "$@"
