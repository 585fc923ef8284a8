# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check from inside each tenant container that it holds what was placed: the probe (probe.py) runs
through Docker's exec API, in this process, at most `parallel` containers at a time, and is read
again until sshd listens or the time is up; what it read is compared with the tenant's placement."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.probe import PROBE_SCRIPT

Reading = Dict[str, Any]
# Time between two reads of a container whose sshd does not listen yet.
POLL_INTERVAL = 0.1


def read_inside(client: Any, container_id: str) -> Reading:
    """What the probe prints in the container, or {"error": ...} when it could not run."""
    try:
        result = client.api.exec_create(container_id, ["sh", "-c", PROBE_SCRIPT], stdout=True, stderr=True, user="root")
        output = client.api.exec_start(result["Id"], demux=True)
        code = client.api.exec_inspect(result["Id"]).get("ExitCode")
    except Exception as exc:  # pylint: disable=broad-except  # docker.errors.*, connection errors: reported per tenant
        return {"error": "docker exec failed: %s" % exc}
    out, err = output if isinstance(output, tuple) else (output, b"")
    text = (out or b"").decode("utf-8", "replace").strip()
    if code != 0 or not text:
        return {"error": "the probe exited %s: %s" % (code, (err or b"").decode("utf-8", "replace").strip()[:300])}
    try:
        reading = json.loads(text)
    except ValueError:
        return {"error": "the probe printed no JSON object: %s" % text[:300]}
    return reading if isinstance(reading, dict) else {"error": "the probe printed %s" % text[:300]}


def _kib(limit: Dict[str, int]) -> str:
    """A soft rlimit in bytes as `ulimit -l` / `ulimit -s` print it (KiB; -1 is unlimited)."""
    soft = int(limit["soft"])
    return "unlimited" if soft == -1 else str(soft // 1024)


def _number(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def mismatches(reading: Reading, want: Dict[str, Any]) -> List[str]:
    """What the container holds that differs from the tenant's placement `want` (the module's tenant
    result); empty when it holds exactly what was placed."""
    if "error" in reading:
        return [str(reading["error"])]
    found: List[str] = []

    def check(ok: bool, what: str, wanted: Any, key: str) -> None:
        if not ok:
            found.append("%s: wanted %s, found %s" % (what, wanted, reading.get(key, "nothing")))

    gpus = ",".join(str(g) for g in want["gpus"]) if want["gpus"] else "void"
    check(reading.get("nvidia_visible_devices") == gpus, "NVIDIA_VISIBLE_DEVICES", gpus, "nvidia_visible_devices")
    smi = reading.get("nvidia_smi_gpus")
    instances = [g for g in want["gpus"] if str(g).startswith("MIG-")]
    whole = len(set(want.get("gpu_indices") or [])) if instances else len(want["gpus"])
    check(smi == "absent" or _number(smi) == whole, "GPUs listed by nvidia-smi -L", whole, "nvidia_smi_gpus")
    mig = reading.get("nvidia_smi_mig")
    check(mig == "absent" or _number(mig) == len(instances), "MIG devices listed by nvidia-smi -L", len(instances),
          "nvidia_smi_mig")
    nodes = _number(reading.get("gpu_nodes"))
    check(nodes is not None and nodes <= whole, "/dev/nvidiaN device nodes", "at most %d" % whole, "gpu_nodes")
    if want["cpus"]:
        check(reading.get("cpuset") == want["cpuset"], "cpuset", want["cpuset"], "cpuset")
        check(_number(reading.get("cpu_quota")) == want["cpu_quota"], "CPU quota", want["cpu_quota"], "cpu_quota")
        check(_number(reading.get("cpu_period")) == want["cpu_period"], "CPU period", want["cpu_period"], "cpu_period")
    check(_number(reading.get("memory_limit")) == want["memory_bytes"], "memory limit", want["memory_bytes"],
          "memory_limit")
    if want["disk_enforced"]:
        root = _number(reading.get("root_size"))
        check(root is not None and root <= want["disk_bytes"] * 1.05, "size of /", "at most %d" % want["disk_bytes"],
              "root_size")
    shm = _number(reading.get("shm_size"))
    # tmpfs rounds its size up to whole pages (64 KiB on some arm64 hosts).
    check(shm is not None and want["shm_size_bytes"] <= shm < want["shm_size_bytes"] + 65536, "size of /dev/shm",
          want["shm_size_bytes"], "shm_size")
    check(str(reading.get("memlock_kib")) == _kib(want["ulimits"]["memlock"]), "ulimit -l",
          _kib(want["ulimits"]["memlock"]), "memlock_kib")
    check(str(reading.get("stack_kib")) == _kib(want["ulimits"]["stack"]), "ulimit -s", _kib(want["ulimits"]["stack"]),
          "stack_kib")
    check(reading.get("sshd_listening") == "yes", "sshd listening on port 22", "yes", "sshd_listening")
    return found


def describe(reading: Reading, want: Dict[str, Any]) -> str:
    """One line of what a container that holds its placement was found to hold."""
    return ("GPUs %s, cpuset %s, quota %s/%s, memory %s, / %s, /dev/shm %s, ulimit -l %s, ulimit -s %s, sshd listening"
            % (reading.get("nvidia_visible_devices"), reading.get("cpuset") or "-", reading.get("cpu_quota"),
               reading.get("cpu_period"), reading.get("memory_limit"), reading.get("root_size_human") or "-",
               want.get("shm_size"), reading.get("memlock_kib"), reading.get("stack_kib")))


def verify_all(wants: List[Dict[str, Any]], read: Callable[[str], Reading], parallel: int, timeout: float,
               clock: Callable[[], float] = time.monotonic, pause: Callable[[float], None] = time.sleep
               ) -> Dict[str, Tuple[Reading, List[str]]]:
    """{tenant name: (what its container holds, what differs)} for every tenant of `wants`. Each
    container is read by one of at most `parallel` threads, again every POLL_INTERVAL while its sshd
    does not listen yet, until `timeout` seconds have passed; then the last reading is compared."""
    deadline = clock() + timeout
    done: Dict[str, Tuple[Reading, List[str]]] = {}

    def check(want: Dict[str, Any]) -> None:
        reading = read(want["container_id"])
        while "error" not in reading and reading.get("sshd_listening") != "yes" and clock() < deadline:
            pause(POLL_INTERVAL)
            reading = read(want["container_id"])
        done[want["name"]] = (reading, mismatches(reading, want))

    in_threads(check, wants, parallel)
    return done


def in_threads(work: Callable[[Any], None], items: List[Any], parallel: int) -> None:
    """work(item) for every item, by at most `parallel` threads, each taking the next item when it is
    done with one; returns when all are done. `work` records its own results and must not raise."""
    queue = list(items)
    guard = threading.Lock()

    def worker() -> None:
        while True:
            with guard:
                if not queue:
                    return
                item = queue.pop(0)
            work(item)

    threads = [threading.Thread(target=worker) for dummy in range(max(1, min(parallel, len(items))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
