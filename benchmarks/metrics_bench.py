"""Time of one refresh of gpulab.dgx.tenant_metrics with N tenants (default 32) on this machine.

    python benchmarks/metrics_bench.py [--tenants 32] [--rounds 7]      # with .venv/bin first on PATH

Creates N small tenant containers (cpus 0, 32M, the tenant test image) on the host's dockerd in one
gpulab.dgx.tenants run, then times, in this process, the module's refresh (connect, one ledger read,
the layer sizes listing, each tenant's cgroup, NVML when present, render, atomic write) several
rounds: wall time and CPU time of this process (the Docker daemon's own CPU is not in it), median
and worst, with and without the layer sizes (disk_usage). Target: <= 1 s wall at 32 tenants.
Everything it makes is named gpulab-bench-metrics-* and removed at the end. Not part of `make test`.
"""

from __future__ import print_function

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import docker

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "tenant"))
import tenant_images  # noqa: E402  (builds the test image: debian12 + the tenant entrypoint)

from ansible.module_utils.testing import patch_module_args  # noqa: E402
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.refresh import refresh  # noqa: E402
from ansible_collections.gpulab.dgx.plugins.modules import tenants as tenants_module  # noqa: E402

PREFIX = "gpulab-bench-metrics-"
IMAGE = tenant_images.IMAGE + ":v1"
CPUS = sorted(os.sched_getaffinity(0))
TOPOLOGY = {"gpus": [], "links": {}, "siblings": [], "numa_nodes": {"0": {"cpus": CPUS, "distance": {"0": 10}}}}


def create(count, work):
    key = os.path.join(work, "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    with open(key + ".pub") as handle:
        public = handle.read().strip()
    items = [{"name": "%s%02d" % (PREFIX, i)} for i in range(count)]
    args = {"tenants": items, "topology": TOPOLOGY, "lock_path": os.path.join(work, "lock"), "parallel": 8,
            "defaults": {"image": IMAGE, "cpus": 0, "memory": "32M", "ssh_public_keys": [public], "ssh_bind_address": "127.0.0.1",
                         "data_base": os.path.join(work, "tenants"), "ulimits": {"memlock": 8388608}}}
    out = io.StringIO()
    started = time.monotonic()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            tenants_module.main()
        except SystemExit:
            pass
    result = json.loads(out.getvalue())
    if result.get("failed"):
        raise SystemExit("creating the tenants failed: %s" % result.get("msg"))
    return time.monotonic() - started


def remove(client):
    for container in client.containers.list(all=True, filters={"label": "gpulab.tenant"}):
        if container.name.startswith(PREFIX):
            container.remove(force=True)


def time_refresh(path, rounds, disk_usage):
    params = {"path": path, "topology": TOPOLOGY, "nvml": "auto", "disk_usage": disk_usage, "docker_host": None}
    walls, cpus, last = [], [], None
    for _round in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        last = refresh(params, False, lambda nvml: TOPOLOGY)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, last


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    client = docker.from_env(version="auto")
    tenant_images.build("v1")
    remove(client)
    work = tempfile.mkdtemp(prefix="gpulab-bench-metrics.")
    try:
        made = create(options.tenants, work)
        print("created %d tenants in %.1f s" % (options.tenants, made))
        path = os.path.join(work, "gpulab.prom")
        print("%-26s %8s %8s %8s %8s  %s" % ("refresh", "wall p50", "wall max", "cpu p50", "cpu max", "result"))
        for disk_usage in (True, False):
            walls, cpus, last = time_refresh(path, options.rounds, disk_usage)
            print("%-26s %7.3fs %7.3fs %7.3fs %7.3fs  %d tenants, %d series, %d bytes" % (
                "disk_usage=%s" % str(disk_usage).lower(), statistics.median(walls), max(walls),
                statistics.median(cpus), max(cpus), last["tenants"], last["series"], last["bytes"]))
        print("target: <= 1 s wall per refresh at 32 tenants (%d rounds each, NVML: %s)" % (options.rounds, last["gpu_use"]))
    finally:
        remove(client)
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
