# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant ledger, read back from Docker: every tenant container's labels and HostConfig.

Docker is the only record. GPUs come from HostConfig.DeviceRequests, CPUs from
HostConfig.CpusetCpus, the port from HostConfig.PortBindings, memory from HostConfig.Memory,
/dev/shm and rlimits from HostConfig.ShmSize and HostConfig.Ulimits;
labels (`gpulab.*`) say which tenant a container is and hold what HostConfig cannot (spec hash,
data directory, quota project).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ports import published_ports
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import REPLACED_SUFFIX

LABEL_TENANT = "gpulab.tenant"
LABEL_GPUS = "gpulab.gpus"
LABEL_CPUSET = "gpulab.cpuset"
LABEL_SPEC_HASH = "gpulab.spec-hash"
LABEL_SSH_PORT = "gpulab.ssh-port"
LABEL_DATA_DIR = "gpulab.data-dir"
LABEL_DISK = "gpulab.disk"
LABEL_QUOTA_PROJECT = "gpulab.quota-project"
LABEL_NUMA_POLICY = "gpulab.numa-policy"
# Set on a tenant whose GPUs are shared (gpu_share): its value is the mode (time-slice).
LABEL_GPU_SHARE = "gpulab.gpu-share"
# A MIG tenant's instances as slots (topology.mig.instance_slots), in the order of its device IDs.
LABEL_MIG_SLOTS = "gpulab.mig-slots"
SSH_CONTAINER_PORT = "22/tcp"


class TenantRecord(object):
    """One tenant container as Docker reports it (from `docker inspect`)."""

    def __init__(self, attrs: Dict[str, Any]) -> None:
        self.attrs = attrs
        config = attrs.get("Config") or {}
        host = attrs.get("HostConfig") or {}
        self.labels: Dict[str, str] = dict(config.get("Labels") or {})
        self.id: str = attrs.get("Id", "")
        self.container_name: str = (attrs.get("Name") or "").lstrip("/")
        self.name: str = self.labels.get(LABEL_TENANT, "")
        self.running = bool((attrs.get("State") or {}).get("Running"))
        self.image_id: str = attrs.get("Image", "")
        self.image: str = config.get("Image", "")
        self.env: List[str] = list(config.get("Env") or [])
        self.gpu_ids: List[str] = gpu_ids_from_requests(host.get("DeviceRequests"))
        self.cpus: List[int] = parse_cpuset(host.get("CpusetCpus") or "")
        # The allocation as recorded at creation; HostConfig may have been changed by `docker update`.
        if LABEL_CPUSET in self.labels:
            self.alloc_cpus: List[int] = parse_cpuset(self.labels[LABEL_CPUSET])
        else:
            self.alloc_cpus = list(self.cpus)
        self.cpuset_mems: str = host.get("CpusetMems") or ""
        self.cpu_quota = int(host.get("CpuQuota") or 0)
        self.cpu_period = int(host.get("CpuPeriod") or 0)
        self.memory = int(host.get("Memory") or 0)
        self.memory_swap = int(host.get("MemorySwap") or 0)
        self.pids_limit = int(host.get("PidsLimit") or 0)
        self.shm_size = int(host.get("ShmSize") or 0)
        self.ulimits: List[Dict[str, Any]] = list(host.get("Ulimits") or [])
        ports = list(published_ports(host.get("PortBindings")))
        self.ports: List[int] = ports
        binding = ((host.get("PortBindings") or {}).get(SSH_CONTAINER_PORT) or [{}])[0] or {}
        port_text = binding.get("HostPort") or self.labels.get(LABEL_SSH_PORT) or ""
        self.ssh_port: Optional[int] = int(port_text) if port_text.isdigit() else None
        self.ssh_bind_address = binding.get("HostIp") or ""
        self.data_dir = self.labels.get(LABEL_DATA_DIR, "")
        disk = self.labels.get(LABEL_DISK, "")
        self.disk: Optional[int] = int(disk) if disk.isdigit() else None
        quota = self.labels.get(LABEL_QUOTA_PROJECT, "")
        self.quota_project: Optional[int] = int(quota) if quota.isdigit() else None
        self.spec_hash = self.labels.get(LABEL_SPEC_HASH, "")
        self.numa_policy = self.labels.get(LABEL_NUMA_POLICY, "")
        self.gpu_share: Optional[str] = self.labels.get(LABEL_GPU_SHARE) or None
        self.mig_slots: List[str] = [s for s in self.labels.get(LABEL_MIG_SLOTS, "").split(",") if s]
        self.storage_size = ((host.get("StorageOpt") or {}).get("size"))

    @property
    def is_leftover(self) -> bool:
        """A container parked during a re-creation that did not finish."""
        return self.container_name.endswith(REPLACED_SUFFIX)


def gpu_ids_from_requests(requests: Optional[List[Dict[str, Any]]]) -> List[str]:
    ids: List[str] = []
    for request in requests or []:
        if (request or {}).get("Driver") == "nvidia":
            ids.extend(str(i) for i in (request.get("DeviceIDs") or []))
    return ids


class Ledger(object):
    """Every container on the daemon, split into tenants (by label) and everything else."""

    def __init__(self, inspected: List[Dict[str, Any]]) -> None:
        self.tenants: Dict[str, TenantRecord] = {}
        self.leftovers: Dict[str, TenantRecord] = {}
        self.by_container_name: Dict[str, Dict[str, Any]] = {}
        self.foreign_ports: Set[int] = set()
        # (container, host source, writable) of every bind mount of a container that is not a tenant.
        self.foreign_mounts: List[Tuple[str, str, bool]] = []
        for attrs in inspected:
            name = (attrs.get("Name") or "").lstrip("/")
            self.by_container_name[name] = attrs
            labels = (attrs.get("Config") or {}).get("Labels") or {}
            if LABEL_TENANT in labels:
                record = TenantRecord(attrs)
                if record.is_leftover:
                    self.leftovers[record.name] = record
                else:
                    self.tenants[record.name] = record
            else:
                self.foreign_ports.update(published_ports((attrs.get("HostConfig") or {}).get("PortBindings")))
                for mount in attrs.get("Mounts") or []:
                    if mount.get("Type") == "bind" and mount.get("Source"):
                        self.foreign_mounts.append((name, mount["Source"], bool(mount.get("RW", True))))

    def snapshot(self) -> "Ledger":
        """A copy whose tables change apart from this one's (the records themselves are shared)."""
        copy = Ledger([])
        copy.tenants, copy.leftovers = dict(self.tenants), dict(self.leftovers)
        copy.by_container_name = dict(self.by_container_name)
        copy.foreign_ports, copy.foreign_mounts = set(self.foreign_ports), list(self.foreign_mounts)
        return copy

    def others(self, name: str) -> List[TenantRecord]:
        """Every allocation except `name`'s own, parked leftovers of other tenants included."""
        records = [r for n, r in self.tenants.items() if n != name]
        records += [r for n, r in self.leftovers.items() if n != name]
        return records

    def data_dirs_of_others(self, name: str) -> List[Tuple[str, str]]:
        """(tenant, recorded data directory) of every other tenant container, parked ones included."""
        return [(r.name, r.data_dir) for r in self.others(name) if r.data_dir]

    def put(self, attrs: Dict[str, Any]) -> None:
        """Record a tenant container as it is now (or, in check mode, would be) after a batch step."""
        record = TenantRecord(attrs)
        self.drop(record.name)
        self.tenants[record.name] = record
        self.by_container_name[record.container_name] = attrs

    def drop(self, name: str) -> None:
        """Forget tenant `name`'s containers (removed, or would be in check mode)."""
        for table in (self.tenants, self.leftovers):
            record = table.pop(name, None)
            if record is not None:
                self.by_container_name.pop(record.container_name, None)

    def ports_taken_by_others(self, name: str) -> Set[int]:
        taken = set(self.foreign_ports)
        for record in self.others(name):
            taken.update(record.ports)
        return taken


def read_ledger(client: Any) -> Ledger:
    """Inspect every container on the daemon (running or not) once."""
    inspected: List[Dict[str, Any]] = []
    for summary in client.api.containers(all=True):
        try:
            inspected.append(client.api.inspect_container(summary["Id"]))
        except Exception as exc:  # pylint: disable=broad-except
            # A container removed between list and inspect holds nothing any more.
            if getattr(exc, "status_code", None) != 404:
                raise
    return Ledger(inspected)
