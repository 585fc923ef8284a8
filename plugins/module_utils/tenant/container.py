# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant container as it should be (Desired), how it differs from the one Docker has,
and the Docker SDK calls that make, update and replace it."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.common.sizes import format_size
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc import Allocation
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import (
    LABEL_CPUSET, LABEL_DATA_DIR, LABEL_DISK, LABEL_GPU_SHARE, LABEL_GPUS, LABEL_MIG_SLOTS, LABEL_NUMA_POLICY, LABEL_QUOTA_PROJECT,
    LABEL_SPEC_HASH, LABEL_SSH_PORT, LABEL_TENANT, SSH_CONTAINER_PORT, TenantRecord)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import TenantSpec

try:
    from docker.types import DeviceRequest, Ulimit
except ImportError:  # pragma: no cover - the module reports the missing library
    DeviceRequest = Ulimit = None

CPU_PERIOD = 100000  # what `docker run --cpus` uses
LABEL_DISK_ENFORCED = "gpulab.disk-enforced"
LOGIN_USER_LABEL = "gpulab.login-user"
STOP_TIMEOUT = 10


class Desired(object):
    """Everything the tenant container should be; `spec_hash` covers what needs a re-creation."""

    def __init__(self, spec: TenantSpec, alloc: Allocation, port: int, image_id: str, storage_size: Optional[int], quota_project: Optional[int]) -> None:
        self.name = spec.name
        self.image = spec.image or ""
        self.image_id = image_id
        self.alloc = alloc
        self.gpu_ids = list(alloc.gpu_ids)
        self.cpuset = alloc.cpuset
        self.mems = alloc.mems
        self.cpu_quota = spec.cpus * CPU_PERIOD if spec.cpus else 0
        self.cpu_period = CPU_PERIOD if spec.cpus else 0
        self.memory = spec.memory or 0
        self.pids_limit = spec.pids_limit
        self.shm_size = spec.shm_size or 0
        self.ulimits = ulimits_view(spec.ulimits)
        self.port = port
        self.bind = spec.ssh_bind_address
        self.data_dir = spec.data_dir
        self.data_mount = spec.data_mount
        self.network = spec.network
        self.disk = spec.disk
        self.storage_size = storage_size
        self.quota_project = quota_project
        env = dict(spec.env)
        env["GPULAB_SSH_AUTHORIZED_KEYS"] = "\n".join(k.text for k in spec.ssh_keys)
        if not self.gpu_ids:
            # A CUDA image sets NVIDIA_VISIBLE_DEVICES=all: a GPU-less tenant must see none.
            env["NVIDIA_VISIBLE_DEVICES"] = "void"
        self.env = ["%s=%s" % (k, env[k]) for k in sorted(env)]
        labels = dict(spec.labels)
        labels.update({
            LABEL_TENANT: spec.name,
            LABEL_GPUS: ",".join(self.gpu_ids),
            LABEL_CPUSET: self.cpuset,
            LABEL_SSH_PORT: str(port),
            LABEL_DATA_DIR: spec.data_dir,
            LABEL_NUMA_POLICY: spec.numa_policy,
        })
        self.gpu_share = spec.gpu_share[1] if spec.gpu_share else None
        if self.gpu_share:
            labels[LABEL_GPU_SHARE] = self.gpu_share
        if alloc.slots:
            labels[LABEL_MIG_SLOTS] = ",".join(alloc.slots)
        if spec.disk:
            labels[LABEL_DISK] = str(spec.disk)
            labels[LABEL_DISK_ENFORCED] = "true" if storage_size else "false"
        if quota_project is not None:
            labels[LABEL_QUOTA_PROJECT] = str(quota_project)
        self.spec_hash = spec_hash({
            # MIG instances by slot: the same slots with new UUIDs (re-created after a reboot) are the same tenant.
            "image": self.image, "image_id": image_id, "gpus": alloc.slots or self.gpu_ids, "cpuset": self.cpuset,
            "mems": self.mems, "pids": self.pids_limit, "shm": self.shm_size, "ulimits": self.ulimits,
            "port": port, "bind": self.bind,
            "data": [self.data_dir, self.data_mount], "storage_size": storage_size, "network": self.network,
            "env": self.env, "labels": dict(labels, **{LABEL_GPUS: ",".join(alloc.slots)}) if alloc.slots else labels,
        })
        labels[LABEL_SPEC_HASH] = self.spec_hash
        self.labels = labels

    def summary(self, running: bool = True) -> Dict[str, Any]:
        return {
            "image": self.image,
            "image_id": self.image_id,
            "gpus": self.gpu_ids,
            "gpu_share": self.gpu_share,
            "cpuset": self.cpuset,
            "cpuset_mems": self.mems,
            "cpus": len(parse_cpuset(self.cpuset)),
            "memory": format_size(self.memory),
            "disk": format_size(self.disk) if self.disk else None,
            "ssh_port": self.port,
            "ssh_bind_address": self.bind,
            "data_dir": self.data_dir,
            "pids_limit": self.pids_limit,
            "shm_size": format_size(self.shm_size),
            "ulimits": self.ulimits,
            "spec_hash": self.spec_hash,
            "running": running,
        }

    def as_attrs(self) -> Dict[str, Any]:
        """The container as `docker inspect` would show it once created: what a batch's check mode
        records in its ledger so that the tenants after this one are placed around it."""
        host: Dict[str, Any] = {
            "CpusetCpus": self.cpuset, "CpusetMems": self.mems, "CpuQuota": self.cpu_quota,
            "CpuPeriod": self.cpu_period, "Memory": self.memory, "MemorySwap": self.memory,
            "PidsLimit": self.pids_limit, "ShmSize": self.shm_size,
            "PortBindings": {SSH_CONTAINER_PORT: [{"HostIp": self.bind, "HostPort": str(self.port)}]},
            "DeviceRequests": [{"Driver": "nvidia", "DeviceIDs": list(self.gpu_ids)}] if self.gpu_ids else None,
        }
        return {"Id": "", "Name": "/" + self.name, "Image": self.image_id, "State": {"Running": True},
                "Config": {"Labels": dict(self.labels), "Image": self.image, "Env": list(self.env)},
                "HostConfig": host,
                "Mounts": [{"Type": "bind", "Source": self.data_dir, "Destination": self.data_mount, "RW": True}]}

    def create_kwargs(self) -> Dict[str, Any]:
        kwargs: Dict[str, Any] = {
            "image": self.image,
            "name": self.name,
            "hostname": self.name,
            "detach": True,
            "network": self.network,
            "labels": self.labels,
            "environment": self.env,
            "ports": {SSH_CONTAINER_PORT: (self.bind, self.port)},
            "volumes": {self.data_dir: {"bind": self.data_mount, "mode": "rw"}},
            "restart_policy": {"Name": "unless-stopped"},
            "mem_limit": self.memory,
            "memswap_limit": self.memory,
            "pids_limit": self.pids_limit,
            "shm_size": self.shm_size,
            "ulimits": [Ulimit(name=name, soft=limit["soft"], hard=limit["hard"])
                        for name, limit in sorted(self.ulimits.items())],
        }
        if self.cpuset:
            kwargs.update(cpuset_cpus=self.cpuset, cpuset_mems=self.mems,
                          cpu_period=self.cpu_period, cpu_quota=self.cpu_quota)
        if self.gpu_ids:
            kwargs["device_requests"] = [DeviceRequest(driver="nvidia", device_ids=list(self.gpu_ids),
                                                       capabilities=[["gpu"]])]
        if self.storage_size:
            kwargs["storage_opt"] = {"size": str(self.storage_size)}
        return kwargs


def ulimits_view(limits: Dict[str, Tuple[int, int]]) -> Dict[str, Dict[str, int]]:
    """{name: {"soft": ..., "hard": ...}} of (soft, hard) pairs; -1 is unlimited."""
    return dict((name, {"soft": soft, "hard": hard}) for name, (soft, hard) in limits.items())


def ulimits_from_host(ulimits: Optional[List[Dict[str, Any]]]) -> Dict[str, Dict[str, int]]:
    """The same view of HostConfig.Ulimits."""
    return dict((u.get("Name", ""), {"soft": int(u.get("Soft", 0)), "hard": int(u.get("Hard", 0))})
                for u in ulimits or [])


def spec_hash(data: Dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def record_summary(record: TenantRecord) -> Dict[str, Any]:
    """The same view as Desired.summary(), read from the container Docker has."""
    return {
        "image": record.image,
        "image_id": record.image_id,
        "gpus": record.gpu_ids,
        "gpu_share": record.gpu_share,
        "cpuset": record.labels.get(LABEL_CPUSET, ""),
        "cpuset_mems": record.cpuset_mems,
        "cpus": len(record.alloc_cpus),
        "memory": format_size(record.memory),
        "disk": format_size(record.disk) if record.disk else None,
        "ssh_port": record.ssh_port,
        "ssh_bind_address": record.ssh_bind_address,
        "data_dir": record.data_dir,
        "pids_limit": record.pids_limit,
        "shm_size": format_size(record.shm_size),
        "ulimits": ulimits_from_host(record.ulimits),
        "spec_hash": record.spec_hash,
        "running": record.running,
    }


def in_place_changes(record: TenantRecord, desired: Desired) -> Dict[str, Any]:
    """Limits Docker can change on a live container (`docker update`) that differ: memory, CPU
    quota, and a cpuset/mems someone changed by hand (put back to the recorded allocation)."""
    update: Dict[str, Any] = {}
    if record.memory != desired.memory or record.memory_swap != desired.memory:
        update["mem_limit"] = desired.memory
        update["memswap_limit"] = desired.memory
    if desired.cpuset:
        if record.cpus != parse_cpuset(desired.cpuset):
            update["cpuset_cpus"] = desired.cpuset
        if parse_cpuset(record.cpuset_mems) != parse_cpuset(desired.mems):
            update["cpuset_mems"] = desired.mems
    if record.cpu_quota != desired.cpu_quota or (desired.cpu_quota and record.cpu_period != desired.cpu_period):
        # Docker takes -1 (not 0) to lift a quota on a live container.
        update["cpu_quota"] = desired.cpu_quota or -1
        update["cpu_period"] = desired.cpu_period or CPU_PERIOD
    return update


def gpu_driver_hint(message: str) -> str:
    if 'could not select device driver "nvidia"' in message:
        return (" (dockerd found no nvidia-container-runtime-hook on its PATH when it started: install "
                "the NVIDIA Container Toolkit and restart Docker, e.g. with the gpulab.dgx.docker_engine role)")
    return ""


def rlimit_hint(message: str) -> str:
    if "setting rlimit" in message and "operation not permitted" in message:
        return (" (dockerd cannot raise a hard limit above its own: it lacks CAP_SYS_RESOURCE, as a rootless or "
                "unprivileged dockerd does; give ulimits within dockerd's own hard limits, read from "
                "/proc/<dockerd pid>/limits: often memlock: 8388608)")
    return ""


def docker_refusal(exc: Exception) -> str:
    """Docker's (or the OS's) words for a refusal, with the fix when it is the missing GPU hook."""
    message = str(getattr(exc, "explanation", None) or exc)
    return message + gpu_driver_hint(message) + rlimit_hint(message)


def create_and_start(client: Any, desired: Desired, undo: Any) -> Any:
    """Create and start the container; its removal goes on the run's undo journal first."""
    container = client.containers.create(**desired.create_kwargs())
    undo.add("removed container %s (%s)" % (desired.name, container.id[:12]), lambda: container.remove(force=True))
    container.start()
    return container


def login_user(image_labels: Optional[Dict[str, str]]) -> str:
    return (image_labels or {}).get(LOGIN_USER_LABEL) or "root"
