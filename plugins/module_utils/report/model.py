# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The allocation map of one host as plain JSON-able data: who holds which GPUs and CPUs, what is
free on each NUMA node, and what looks wrong. Built from the topology and one metrics snapshot
(module_utils/metrics/collect.py); the renderers (plugins/plugin_utils/report/) draw only this.

Shape::

    host:       {hostname, topology_source, gpu_use, numa_nodes, tenants, gpus: {total, held, free},
                 cpus: {total, held, free}, memory_limit_bytes, disk_limit_bytes}
    numa_nodes: [{id, cpus, cpuset, cores: [[cpu, sibling...]], gpus: [index], free_cpus, free_cpuset}]
    gpus:       [{index, uuid, name, pci_bus_id, memory_mib, numa_node, tenant, tenants}]
    links:      [{gpus: [i, j], label, kind: nvlink|pcie|cpu}]
    tenants:    [{name, image, ssh_port, running, parked, gpus: [{index, uuid, numa_node}], cpuset, cpus,
                  cpu_count, memory_limit_bytes, memory_limit, disk_limit_bytes, disk_limit,
                  numa_nodes, cpu_numa_nodes, gpu_numa_nodes}]
    free:       {gpus: [index], cpus: int, by_numa: [{numa_node, gpus, cpus, cpuset}]}
    warnings:   [{kind, tenant, gpu, message}]   (report/checks.py)
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set

from ansible_collections.gpulab.dgx.plugins.module_utils.common.sizes import format_size
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.collect import Snapshot
from ansible_collections.gpulab.dgx.plugins.module_utils.report.checks import find_warnings
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.ids import cpu_nodes, gpu_ids
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import TenantRecord
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset

PCIE_LABELS = ("PIX", "PXB", "PHB")


def link_kind(label: str) -> str:
    """nvlink (NV#), pcie (through PCIe switches or one host bridge) or cpu (NODE/SYS: through the CPUs)."""
    if label.startswith("NV"):
        return "nvlink"
    return "pcie" if label in PCIE_LABELS else "cpu"


def build_report(topology: Dict[str, Any], snapshot: Snapshot, hostname: str = "") -> Dict[str, Any]:
    """The allocation map of `topology` as `snapshot` (its ledger read once) shows it."""
    _to_id, to_index = gpu_ids(topology)
    node_of = cpu_nodes(topology)
    gpu_node = dict((int(g["index"]), int(g.get("numa_node", -1))) for g in topology.get("gpus") or [])

    tenants = [_tenant(view, record, node_of)
               for view, record in _with_records(snapshot)]
    parked = _parked(snapshot, tenants, to_index, node_of, gpu_node)
    tenants.extend(parked)
    tenants.sort(key=lambda t: t["name"])

    gpu_holders: Dict[int, List[str]] = {}
    cpu_holders: Dict[int, List[str]] = {}
    for tenant in tenants:
        for gpu in tenant["gpus"]:
            if gpu["index"] is not None and tenant["name"] not in gpu_holders.setdefault(gpu["index"], []):
                gpu_holders[gpu["index"]].append(tenant["name"])
        for cpu in tenant["cpus"]:
            if tenant["name"] not in cpu_holders.setdefault(cpu, []):
                cpu_holders[cpu].append(tenant["name"])

    instance_holder = dict((m["uuid"], tenant["name"]) for tenant in tenants for m in tenant.get("mig") or [])
    gpus = [_gpu(g, gpu_holders.get(int(g["index"]), []), instance_holder) for g in topology.get("gpus") or []]
    nodes = _numa_nodes(topology, gpus, cpu_holders)
    free_gpus = [g["index"] for g in gpus if not g["tenants"]]
    free_by_numa = [{"numa_node": n["id"], "gpus": [i for i in n["gpus"] if i in free_gpus],
                     "cpus": len(n["free_cpus"]), "cpuset": n["free_cpuset"]} for n in nodes]
    held_cpus = set(cpu_holders) & set(node_of)
    report: Dict[str, Any] = {
        "host": {
            "hostname": hostname,
            "topology_source": topology.get("source"),
            "gpu_use": snapshot.gpu_status,
            "numa_nodes": len(nodes),
            "tenants": len(tenants),
            "gpus": {"total": len(gpus), "held": len(gpus) - len(free_gpus), "free": len(free_gpus)},
            "cpus": {"total": len(node_of), "held": len(held_cpus), "free": len(node_of) - len(held_cpus)},
            "memory_limit_bytes": sum(t["memory_limit_bytes"] or 0 for t in tenants),
            "disk_limit_bytes": sum(t["disk_limit_bytes"] or 0 for t in tenants),
        },
        "numa_nodes": nodes,
        "gpus": gpus,
        "links": _links(topology),
        "tenants": tenants,
        "free": {"gpus": free_gpus, "cpus": len(node_of) - len(held_cpus), "by_numa": free_by_numa},
    }
    report["warnings"] = find_warnings(report, snapshot, topology)
    return report


def _with_records(snapshot: Snapshot) -> List[Any]:
    """(tenant view, its ledger record) of every tenant the snapshot shows."""
    records = snapshot.ledger.tenants if snapshot.ledger is not None else {}
    return [(view, records.get(view.name)) for view in snapshot.tenants]


def _tenant(view: Any, record: Optional[TenantRecord], node_of: Dict[int, int]) -> Dict[str, Any]:
    # The recorded allocation, and what HostConfig says now should `docker update` have changed it.
    cpus = sorted(set(record.alloc_cpus) | set(record.cpus)) if record is not None else []
    gpus = [{"index": g.index, "uuid": g.uuid or None, "numa_node": g.numa_node} for g in view.gpus]
    entry = _tenant_entry(view.name, view.image, view.ssh_port, view.running, False, gpus, cpus,
                          view.memory_limit or 0, view.disk_limit, node_of, view.numa_nodes)
    # MIG instances: their GPUs are in gpus once each; which slices of them the tenant holds is here.
    entry["mig"] = [{"gpu": m["gpu"], "profile": m["profile"], "gi": m["gi"], "uuid": m["uuid"]} for m in view.mig]
    return entry


def _tenant_entry(name: str, image: str, ssh_port: Optional[int], running: bool, parked: bool,
                  gpus: List[Dict[str, Any]], cpus: List[int], memory: int, disk: Optional[int],
                  node_of: Dict[int, int], numa_nodes: str) -> Dict[str, Any]:
    cpu_numa = sorted(set(node_of[c] for c in cpus if c in node_of))
    gpu_numa = sorted(set(g["numa_node"] for g in gpus if g["numa_node"] is not None))
    return {
        "name": name,
        "image": image,
        "ssh_port": ssh_port,
        "running": running,
        "parked": parked,
        "gpus": gpus,
        "cpuset": format_cpuset(cpus),
        "cpus": cpus,
        "cpu_count": len(cpus),
        "memory_limit_bytes": memory or None,
        "memory_limit": format_size(memory) if memory else "",
        "disk_limit_bytes": disk,
        "disk_limit": format_size(disk) if disk else "",
        "numa_nodes": numa_nodes,
        "cpu_numa_nodes": cpu_numa,
        "gpu_numa_nodes": gpu_numa,
        "mig": [],
    }


def _parked(snapshot: Snapshot, tenants: List[Dict[str, Any]], to_index: Dict[str, int], node_of: Dict[int, int],
            gpu_node: Dict[int, int]) -> List[Dict[str, Any]]:
    """Containers parked by a re-creation that did not finish still hold their GPUs and CPUs: shown
    under the tenant's name, as a parked entry of their own when the tenant has no live container."""
    if snapshot.ledger is None:
        return []
    live = set(t["name"] for t in tenants)
    entries = []
    for name in sorted(snapshot.ledger.leftovers):
        record = snapshot.ledger.leftovers[name]
        gpus = []
        for gid in record.gpu_ids:
            index = to_index.get(gid)
            node = gpu_node.get(index) if index is not None else None
            gpus.append({"index": index, "uuid": gid if not gid.isdigit() else None,
                         "numa_node": node if node is not None and node >= 0 else None})
        cpus = sorted(set(record.alloc_cpus) | set(record.cpus))
        entry = _tenant_entry(name, record.image, record.ssh_port, record.running, True, gpus, cpus,
                              record.memory, record.disk, node_of, "")
        if name in live:  # the live tenant's entry gains what its parked container still holds
            for tenant in tenants:
                if tenant["name"] == name:
                    known = set(g["index"] for g in tenant["gpus"])
                    tenant["gpus"].extend(g for g in gpus if g["index"] not in known)
                    tenant["parked"] = True
        else:
            entries.append(entry)
    return entries


def _gpu(gpu: Dict[str, Any], holders: List[str], instance_holder: Dict[str, str]) -> Dict[str, Any]:
    """One GPU of the map; a GPU in MIG mode also lists its instances, each with the tenant holding it (or None)."""
    node = int(gpu.get("numa_node", -1))
    instances = [{"profile": i["profile"], "gi": i.get("gi"), "ci": i.get("ci"), "uuid": i["uuid"],
                  "tenant": instance_holder.get(i["uuid"])}
                 for i in gpu.get("mig_instances") or []]
    return {
        "mig_mode": gpu.get("mig_mode"),
        "mig_instances": instances,
        "index": int(gpu["index"]),
        "uuid": gpu.get("uuid"),
        "name": gpu.get("name"),
        "pci_bus_id": gpu.get("pci_bus_id"),
        "memory_mib": gpu.get("memory_mib"),
        "numa_node": node if node >= 0 else None,
        "tenant": sorted(holders)[0] if holders else None,
        "tenants": sorted(holders),
    }


def _numa_nodes(topology: Dict[str, Any], gpus: List[Dict[str, Any]], cpu_holders: Dict[int, List[str]]) -> List[Dict[str, Any]]:
    sibling_of: Dict[int, List[int]] = {}
    for group in topology.get("siblings") or []:
        ids = sorted(int(c) for c in group)
        for cpu in ids:
            sibling_of[cpu] = ids
    nodes = []
    for key in sorted(topology.get("numa_nodes") or {}, key=int):
        cpus = sorted(int(c) for c in topology["numa_nodes"][key].get("cpus") or [])
        mine = set(cpus)
        cores: List[List[int]] = []
        seen: Set[int] = set()
        for cpu in cpus:
            if cpu in seen:
                continue
            core = [c for c in sibling_of.get(cpu, [cpu]) if c in mine] or [cpu]
            seen.update(core)
            cores.append(core)
        free = [c for c in cpus if not cpu_holders.get(c)]
        nodes.append({
            "id": int(key),
            "cpus": cpus,
            "cpuset": format_cpuset(cpus),
            "cores": cores,
            "gpus": [g["index"] for g in gpus if g["numa_node"] == int(key)],
            "free_cpus": free,
            "free_cpuset": format_cpuset(free),
        })
    return nodes


def _links(topology: Dict[str, Any]) -> List[Dict[str, Any]]:
    links = []
    for key, label in (topology.get("links") or {}).items():
        i, j = sorted(int(p) for p in str(key).split(","))
        links.append({"gpus": [i, j], "label": label, "kind": link_kind(label)})
    links.sort(key=lambda link: link["gpus"])
    return links
