# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the allocation map warns about, each as {kind, tenant, gpu, message}:

- numa_split:      a tenant whose CPUs lie on a NUMA node none of its GPUs is on;
- foreign_process: processes on a GPU from a container that does not hold it (another tenant's,
                   or a container that is no tenant), from the metrics snapshot's GPU reading;
- shared_gpu, shared_cpu: one GPU or CPU held by more than one tenant;
- unknown_gpu:     a tenant holds a GPU the topology does not show;
- topology:        what the topology reader doubted (its own warnings).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.collect import Snapshot
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset


def warning(kind: str, message: str, tenant: Optional[str] = None, gpu: Optional[int] = None) -> Dict[str, Any]:
    return {"kind": kind, "tenant": tenant, "gpu": gpu, "message": message}


def find_warnings(report: Dict[str, Any], snapshot: Snapshot, topology: Dict[str, Any]) -> List[Dict[str, Any]]:
    found: List[Dict[str, Any]] = []
    node_of = dict((cpu, node["id"]) for node in report["numa_nodes"] for cpu in node["cpus"])
    for tenant in report["tenants"]:
        found.extend(_numa_split(tenant, node_of))
        for gpu in tenant["gpus"]:
            if gpu["index"] is None:
                found.append(warning("unknown_gpu", "%s holds GPU %s, which the topology does not show"
                                     % (tenant["name"], gpu["uuid"] or "?"), tenant["name"]))
    for gpu in report["gpus"]:
        if len(gpu["tenants"]) > 1:
            found.append(warning("shared_gpu", "GPU %d is held by more than one tenant: %s"
                                 % (gpu["index"], ", ".join(gpu["tenants"])), gpu=gpu["index"]))
    found.extend(_shared_cpus(report["tenants"]))
    found.extend(_foreign(report, snapshot))
    for text in topology.get("warnings") or []:
        found.append(warning("topology", "topology: %s" % text))
    return found


def _numa_split(tenant: Dict[str, Any], node_of: Dict[int, int]) -> List[Dict[str, Any]]:
    gpu_nodes = set(tenant["gpu_numa_nodes"])
    if not gpu_nodes or not tenant["cpus"]:
        return []
    away = [c for c in tenant["cpus"] if c in node_of and node_of[c] not in gpu_nodes]
    if not away:
        return []
    away_nodes = sorted(set(node_of[c] for c in away))
    indices = [g["index"] for g in tenant["gpus"] if g["index"] is not None]
    return [warning("numa_split", "%s: CPUs %s are on NUMA node%s %s, its GPU%s %s on node%s %s"
                    % (tenant["name"], format_cpuset(away), _s(away_nodes), _join(away_nodes),
                       _s(indices), _join(indices), _s(gpu_nodes), _join(sorted(gpu_nodes))), tenant["name"])]


def _shared_cpus(tenants: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    owners: Dict[int, List[str]] = {}
    for tenant in tenants:
        for cpu in tenant["cpus"]:
            owners.setdefault(cpu, []).append(tenant["name"])
    by_group: Dict[str, List[int]] = {}
    for cpu, names in owners.items():
        if len(set(names)) > 1:
            by_group.setdefault(", ".join(sorted(set(names))), []).append(cpu)
    return [warning("shared_cpu", "CPUs %s are held by more than one tenant: %s" % (format_cpuset(cpus), names))
            for names, cpus in sorted(by_group.items())]


def _foreign(report: Dict[str, Any], snapshot: Snapshot) -> List[Dict[str, Any]]:
    """GPU processes outside their tenant, from the snapshot (only where NVML was read)."""
    holders = dict((g["index"], set(g["tenants"])) for g in report["gpus"])
    intruders: Dict[int, Set[str]] = {}
    for share in snapshot.shares:
        if share.tenant not in holders.get(share.index, set()):
            intruders.setdefault(share.index, set()).add(share.tenant)
    found = []
    for count in snapshot.foreign:
        if count.count <= 0:
            continue
        held = sorted(holders.get(count.index, set()))
        who = sorted(intruders.get(count.index, set()))
        found.append(warning(
            "foreign_process", "GPU %d (%s): %d process%s from %s that do%s not hold it%s"
            % (count.index, "held by " + ", ".join(held) if held else "free", count.count,
               "" if count.count == 1 else "es", "a container" if count.count == 1 else "containers", "es" if count.count == 1 else "",
               " (tenant %s)" % ", ".join(who) if who else " (not a tenant)"),
            who[0] if len(who) == 1 else None, count.index))
    return found


def _s(items: Any) -> str:
    return "s" if len(items) != 1 else ""


def _join(items: List[int]) -> str:
    return ",".join(str(i) for i in items)
