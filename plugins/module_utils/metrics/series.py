# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gpulab_* series of one snapshot (docs/metrics.md says what each means). Per-GPU series carry
DCGM's `gpu` (index) and `UUID` labels, so dashboards join them with dcgm-exporter's."""

from __future__ import annotations

from typing import List

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.collect import Snapshot
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.render import Family


def _index(value: object) -> str:
    return "" if value is None else str(value)


def families(snapshot: Snapshot) -> List[Family]:
    """Every family, in the file's fixed order (empty ones are left out when rendered)."""
    info = Family("gpulab_tenant_info", "gauge", "A tenant container (value 1): its image, SSH port and NUMA nodes.")
    gpu_info = Family("gpulab_tenant_gpu_info", "gauge", "A GPU a tenant holds (value 1), with DCGM's gpu and UUID labels and its NUMA node.")
    cpuset_info = Family("gpulab_tenant_cpuset_info", "gauge", "The CPUs a tenant holds (value 1), as a canonical CPU list.")
    memory_limit = Family("gpulab_tenant_memory_limit_bytes", "gauge", "A tenant's memory limit in bytes.")
    cpus = Family("gpulab_tenant_cpus", "gauge", "How many logical CPUs a tenant holds.")
    disk_limit = Family("gpulab_tenant_disk_limit_bytes", "gauge", "A tenant's disk limit in bytes (root filesystem and data quota).")
    gpus = Family("gpulab_tenant_gpus", "gauge", "How many whole GPUs a tenant holds (MIG instances are counted apart).")
    mig_info = Family("gpulab_tenant_mig_info", "gauge", "A MIG instance a tenant holds (value 1), with its GPU's DCGM gpu and UUID "
                      "labels, DCGM's GPU_I_ID and GPU_I_PROFILE, and the instance's own mig_uuid.")
    mig_count = Family("gpulab_tenant_mig_instances", "gauge", "How many MIG instances a tenant holds.")
    gpu_memory = Family("gpulab_tenant_gpu_memory_used_bytes", "gauge", "GPU memory held by a tenant's processes on a GPU, from NVML's process lists.")
    gpu_util = Family("gpulab_tenant_gpu_utilization_ratio", "gauge",
                      "SM utilization of a GPU by a tenant's processes (0 to 1), from NVML's latest per-process samples.")
    cpu_seconds = Family("gpulab_tenant_cpu_seconds_total", "counter", "CPU time a tenant's container used since it started, in seconds.")
    memory_used = Family("gpulab_tenant_memory_used_bytes", "gauge",
                         "Memory a tenant's container uses: anonymous memory and page cache less inactive file pages.")
    disk_used = Family("gpulab_tenant_disk_used_bytes", "gauge",
                       "Bytes a tenant wrote, by mount (/: the container's writable layer; the data mount: its xfs project quota's use).")
    last_login = Family("gpulab_tenant_last_login_timestamp_seconds", "gauge",
                        "When someone last logged in to a tenant's container (its wtmp), in seconds since the epoch.")
    host_gpus = Family("gpulab_host_gpus", "gauge", "The host's GPUs: free, held by one tenant (or by MIG tenants), or shared by "
                       "tenants that asked to share (gpu_share).")
    host_cpus = Family("gpulab_host_cpus", "gauge", "The host's logical CPUs, free or held by a tenant.")
    foreign = Family("gpulab_gpu_foreign_processes", "gauge",
                     "Processes on a GPU from a container that does not hold it (another tenant's, or no tenant's).")

    for tenant in snapshot.tenants:
        name = tenant.name
        info.add(1, tenant=name, image=tenant.image, ssh_port=_index(tenant.ssh_port), numa_nodes=tenant.numa_nodes)
        for gpu in tenant.gpus:
            gpu_info.add(1, tenant=name, gpu=_index(gpu.index), UUID=gpu.uuid, numa_node=_index(gpu.numa_node))
        cpuset_info.add(1, tenant=name, cpuset=tenant.cpuset)
        if tenant.memory_limit > 0:
            memory_limit.add(tenant.memory_limit, tenant=name)
        cpus.add(tenant.cpus, tenant=name)
        if tenant.disk_limit is not None:
            disk_limit.add(tenant.disk_limit, tenant=name)
        mig_gpus = set(m["gpu"] for m in tenant.mig)
        gpus.add(len([g for g in tenant.gpus if g.index is None or g.index not in mig_gpus]), tenant=name)
        if tenant.mig:
            mig_count.add(len(tenant.mig), tenant=name)
        for inst in tenant.mig:
            mig_info.add(1, tenant=name, gpu=_index(inst["gpu"]), UUID=inst["gpu_uuid"], GPU_I_ID=_index(inst["gi"]),
                         GPU_I_PROFILE=inst["profile"], mig_uuid=inst["uuid"])
        if tenant.cpu_seconds is not None:
            cpu_seconds.add(tenant.cpu_seconds, tenant=name)
        if tenant.memory_used is not None:
            memory_used.add(tenant.memory_used, tenant=name)
        if tenant.disk_used is not None:
            disk_used.add(tenant.disk_used, tenant=name, mount="/")
        if tenant.data_used is not None:
            disk_used.add(tenant.data_used, tenant=name, mount=tenant.data_mount)
        if tenant.last_login is not None:
            last_login.add(tenant.last_login, tenant=name)
    for share in snapshot.shares:
        gpu_memory.add(share.memory, tenant=share.tenant, gpu=share.index, UUID=share.uuid)
        if share.utilization is not None:
            gpu_util.add(share.utilization, tenant=share.tenant, gpu=share.index, UUID=share.uuid)
    host_gpus.add(snapshot.gpus_total - snapshot.gpus_held, state="free")
    host_gpus.add(snapshot.gpus_held - snapshot.gpus_shared, state="held")
    host_gpus.add(snapshot.gpus_shared, state="shared")
    host_cpus.add(snapshot.cpus_total - snapshot.cpus_held, state="free")
    host_cpus.add(snapshot.cpus_held, state="held")
    for count in snapshot.foreign:
        foreign.add(count.count, gpu=count.index, UUID=count.uuid)
    return [info, gpu_info, cpuset_info, memory_limit, cpus, disk_limit, gpus, mig_count, mig_info, gpu_memory, gpu_util,
            cpu_seconds, memory_used, disk_used, last_login, host_gpus, host_cpus, foreign]
