# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One look at the host for the metrics: the tenant ledger read once from Docker, each running
tenant's cgroup (CPU time, memory in use), the containers' writable layer sizes in one listing,
and the processes on each GPU mapped to their containers.

The cost grows with the number of containers, never with its square: one container listing and one
inspect per container (the ledger), one more listing for the sizes, three or four small cgroup files
per running tenant, one /proc/<pid>/cgroup per GPU process.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Set

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.cgroup import CgroupReader
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.gpu import GpuReading
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.tenantfs import TenantFiles
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.ids import cpu_nodes, gpu_ids
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import LABEL_TENANT, Ledger, TenantRecord, read_ledger
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset, parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import instance_index


class TenantGpu(object):
    """A GPU a tenant holds: DCGM's `gpu` (index) and `UUID`, and its NUMA node (None when unknown)."""

    def __init__(self, index: Optional[int], uuid: str, numa_node: Optional[int]) -> None:
        self.index = index
        self.uuid = uuid
        self.numa_node = numa_node


class TenantView(object):
    """One tenant as the metrics show it: its allocation, limits and (running) use."""

    def __init__(self, record: TenantRecord, gpus: List[TenantGpu], numa_nodes: str,
                 mig: Optional[List[Dict[str, Any]]] = None) -> None:
        self.name = record.name
        self.mig = mig or []  # MIG instances held: {uuid, gpu, gi, profile}; their GPUs are in gpus once each
        self.image = record.image
        self.ssh_port = record.ssh_port
        self.numa_nodes = numa_nodes
        self.cpuset = format_cpuset(record.alloc_cpus)
        self.cpus = len(record.alloc_cpus)
        self.memory_limit = record.memory
        self.disk_limit = record.disk
        self.gpus = gpus
        self.running = record.running
        self.cpu_seconds: Optional[float] = None
        self.memory_used: Optional[int] = None
        self.disk_used: Optional[int] = None
        self.data_used: Optional[int] = None
        self.data_mount = ""
        self.last_login: Optional[int] = None


class GpuShare(object):
    """What one tenant's processes use of one GPU (utilization None: the GPU gives no samples)."""

    def __init__(self, tenant: str, index: int, uuid: str, memory: int, utilization: Optional[float]) -> None:
        self.tenant = tenant
        self.index = index
        self.uuid = uuid
        self.memory = memory
        self.utilization = utilization


class ForeignCount(object):
    """Processes on a GPU from a container that does not hold it (another tenant's, or not a tenant's)."""

    def __init__(self, index: int, uuid: str, count: int) -> None:
        self.index = index
        self.uuid = uuid
        self.count = count


class Snapshot(object):
    """Everything one refresh of the metrics file shows."""

    def __init__(self) -> None:
        self.tenants: List[TenantView] = []
        self.gpus_total = 0
        self.gpus_held = 0
        self.gpus_shared = 0  # of the held: GPUs only tenants sharing them (gpu_share) hold
        self.cpus_total = 0
        self.cpus_held = 0
        self.shares: List[GpuShare] = []
        self.foreign: List[ForeignCount] = []
        self.gpu_status = ""
        self.gpu_available = False
        self.ledger: Optional[Ledger] = None  # the ledger as read, parked leftovers included (the allocation map)


def collect(client: Any, topology: Dict[str, Any], read_gpus: Callable[[], GpuReading], cgroups: CgroupReader,
            disk_usage: bool = True, files: Optional[TenantFiles] = None) -> Snapshot:
    """Read the ledger, the tenants' cgroups, their writable layer sizes (when `disk_usage`), data quota use and
    last logins (when `files` is given) and the GPUs' processes."""
    ledger = read_ledger(client)
    sizes = _layer_sizes(client) if disk_usage else {}
    reading = read_gpus()
    to_id, to_index = gpu_ids(topology)
    instances = instance_index(topology)
    for gpu in reading.gpus:  # NVML's own names for GPUs the topology lacks (or names by index only)
        to_index.setdefault(gpu.uuid, gpu.index)
        to_index.setdefault(str(gpu.index), gpu.index)
    nvml_uuid = dict((gpu.index, gpu.uuid) for gpu in reading.gpus)
    gpu_numa = dict((int(g["index"]), g.get("numa_node")) for g in topology.get("gpus") or [])
    node_of = cpu_nodes(topology)

    snapshot = Snapshot()
    snapshot.gpu_status, snapshot.gpu_available = reading.status, reading.available
    snapshot.ledger = ledger
    for name in sorted(ledger.tenants):
        record = ledger.tenants[name]
        gpus: List[TenantGpu] = []
        mig: List[Dict[str, Any]] = []
        for gid in record.gpu_ids:
            gpu = _tenant_gpu(gid, to_id, to_index, nvml_uuid, gpu_numa)
            if gid in instances:
                mig.append({"uuid": gid, "gpu": gpu.index, "gpu_uuid": gpu.uuid, "gi": instances[gid].get("gi"),
                            "profile": instances[gid]["profile"]})
            if not any(g.index == gpu.index and g.uuid == gpu.uuid for g in gpus):
                gpus.append(gpu)  # a GPU once, however many of its instances the tenant holds
        view = TenantView(record, gpus, _numa_nodes(record, gpus, node_of), mig)
        pid = int((record.attrs.get("State") or {}).get("Pid") or 0)
        if record.running and pid > 0:
            usage = cgroups.usage(pid, record.id)
            view.cpu_seconds, view.memory_used = usage.cpu_seconds, usage.memory_bytes
            view.last_login = files.last_login(pid) if files is not None else None
        if files is not None and record.quota_project is not None:
            view.data_mount = _mount_of(record)
            view.data_used = files.data_used(record.data_dir, record.disk) if view.data_mount else None
        if record.id in sizes:
            view.disk_used = sizes[record.id]
        snapshot.tenants.append(view)

    holders = _holders(ledger, to_index)
    all_gpus = set(to_id) | set(nvml_uuid)
    all_cpus = set(node_of)
    held_cpus: Set[int] = set()
    for record in list(ledger.tenants.values()) + list(ledger.leftovers.values()):
        held_cpus.update(record.alloc_cpus)
        held_cpus.update(record.cpus)
    snapshot.gpus_total, snapshot.gpus_held = len(all_gpus), len(all_gpus & set(holders))
    sharers = set(r.name for r in ledger.tenants.values() if r.gpu_share)
    snapshot.gpus_shared = len([g for g in all_gpus & set(holders) if holders[g] and holders[g] <= sharers])
    snapshot.cpus_total, snapshot.cpus_held = len(all_cpus), len(all_cpus & held_cpus)
    _gpu_use(snapshot, ledger, reading, holders, cgroups)
    return snapshot


def _mount_of(record: TenantRecord) -> str:
    """Where the tenant's data directory is mounted in its container ("" when it is not)."""
    for mount in record.attrs.get("Mounts") or []:
        if record.data_dir and mount.get("Source") == record.data_dir:
            return str(mount.get("Destination") or "")
    return ""


def _layer_sizes(client: Any) -> Dict[str, int]:
    """{container ID: size of its writable layer (SizeRw)} of every tenant container, in one listing."""
    sizes: Dict[str, int] = {}
    for summary in client.api.containers(all=True, size=True, filters={"label": LABEL_TENANT}):
        if summary.get("SizeRw") is not None:
            sizes[summary["Id"]] = int(summary["SizeRw"])
    return sizes


def _tenant_gpu(gid: str, to_id: Dict[int, str], to_index: Dict[str, int], nvml_uuid: Dict[int, str],
                gpu_numa: Dict[int, Any]) -> TenantGpu:
    index = to_index.get(gid)
    if index is None:  # a GPU the host no longer shows: keep what the ledger says
        return TenantGpu(None, gid if not gid.isdigit() else "", None)
    uuid = nvml_uuid.get(index) or (to_id.get(index, "") if not to_id.get(index, "").isdigit() else "")
    numa = gpu_numa.get(index)
    return TenantGpu(index, uuid, int(numa) if numa is not None and int(numa) >= 0 else None)


def _numa_nodes(record: TenantRecord, gpus: List[TenantGpu], node_of: Dict[int, int]) -> str:
    """The NUMA nodes the tenant's memory is pinned to (HostConfig.CpusetMems), else those of its CPUs and GPUs."""
    try:
        pinned = parse_cpuset(record.cpuset_mems)
    except ValueError:
        pinned = []
    if pinned:
        return format_cpuset(pinned)
    nodes = set(node_of[c] for c in record.alloc_cpus if c in node_of)
    nodes.update(g.numa_node for g in gpus if g.numa_node is not None)
    return format_cpuset(nodes)


def _holders(ledger: Ledger, to_index: Dict[str, int]) -> Dict[int, Set[str]]:
    """{GPU index: the tenants holding it} (a parked container left by a re-creation holds too)."""
    holders: Dict[int, Set[str]] = {}
    for record in list(ledger.tenants.values()) + list(ledger.leftovers.values()):
        for gid in record.gpu_ids:
            if gid in to_index:
                holders.setdefault(to_index[gid], set()).add(record.name)
    return holders


def _gpu_use(snapshot: Snapshot, ledger: Ledger, reading: GpuReading, holders: Dict[int, Set[str]], cgroups: CgroupReader) -> None:
    """Each GPU's processes attributed to tenants through their cgroups; the rest counted as foreign."""
    if not reading.available:
        return
    tenant_of: Dict[str, str] = {}
    for record in list(ledger.leftovers.values()) + list(ledger.tenants.values()):
        tenant_of[record.id] = record.name
    known = dict((attrs.get("Id", ""), name) for name, attrs in ledger.by_container_name.items())
    for gpu in reading.gpus:
        owners = holders.get(gpu.index, set())
        memory: Dict[str, int] = dict((name, 0) for name in owners if name in ledger.tenants)
        percent: Dict[str, int] = dict(memory)
        foreign = 0
        for process in gpu.processes:
            container = cgroups.container_of(process.pid, known)
            if container is None:
                continue  # a host process (Xorg, a monitoring agent): not a container's
            tenant = tenant_of.get(container)
            if tenant not in owners:
                foreign += 1
            if tenant is None:
                continue
            memory[tenant] = memory.get(tenant, 0) + (process.used_memory or 0)
            percent[tenant] = percent.get(tenant, 0) + (gpu.utilization or {}).get(process.pid, 0)
        for tenant in sorted(memory):
            ratio = None if gpu.utilization is None else min(100, percent[tenant]) / 100.0
            snapshot.shares.append(GpuShare(tenant, gpu.index, gpu.uuid, memory[tenant], ratio))
        snapshot.foreign.append(ForeignCount(gpu.index, gpu.uuid, foreign))
