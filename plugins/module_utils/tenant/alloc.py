# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A tenant's GPUs and CPUs: keep what it holds while still valid, place only when it is new
or its request (GPU count, CPU count, NUMA policy) changed."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.ids import cpu_nodes, gpu_ids
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.placement import PlacementError, place
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import TenantRecord
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, TenantSpec
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import mig_gpus
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError, check_topology
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc_mig import allocate_mig
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc_share import allocate_shared


class Allocation(object):
    """The GPUs (topology indices and the IDs Docker is given) and CPUs a tenant holds."""

    def __init__(self, gpu_indices: List[int], gpu_ids: List[str], cpus: List[int], node_of: Dict[int, int], placed: bool,
                 notes: Optional[List[str]] = None, numa_local: bool = True, slots: Optional[List[str]] = None) -> None:
        self.gpu_indices = gpu_indices
        self.gpu_ids = gpu_ids
        self.cpus = cpus
        self.cpuset = format_cpuset(cpus)
        self.mems = format_cpuset(set(node_of[c] for c in cpus if c in node_of))  # the CPUs' NUMA nodes
        self.placed = placed
        self.notes = notes or []
        self.numa_local = numa_local
        self.slots = slots or []  # a MIG tenant's instances as slots, in gpu_ids' order


def held_by(records: List[TenantRecord], to_index: Dict[str, int]) -> Tuple[Set[int], Set[int]]:
    """GPU indices and CPUs other tenants hold (recorded allocation and live HostConfig both)."""
    gpus: Set[int] = set()
    cpus: Set[int] = set()
    for record in records:
        for gid in record.gpu_ids:
            if gid in to_index:
                gpus.add(to_index[gid])
        cpus.update(record.alloc_cpus)
        cpus.update(record.cpus)
    return gpus, cpus


def allocate(spec: TenantSpec, current: Optional[TenantRecord], others: List[TenantRecord], topology: Dict[str, Any], place_fn: Any = place) -> Allocation:
    try:
        check_topology(topology)
    except TopologyError as exc:
        shape = "(%d GPUs, %d NUMA nodes)" % (len(topology.get("gpus") or []), len(topology.get("numa_nodes") or {}))
        raise SpecError("topology", shape, "is not a valid topology: %s" % exc)
    to_id, to_index = gpu_ids(topology)
    node_of = cpu_nodes(topology)
    if spec.mig:
        return Allocation(node_of=node_of, **allocate_mig(spec, current, others, topology, to_index, node_of))
    if spec.gpu_share:
        return Allocation(node_of=node_of, **allocate_shared(spec, current, others, topology, to_id, to_index, node_of))
    used_gpus, used_cpus = held_by(others, to_index)
    partitioned = set(mig_gpus(topology))
    used_gpus |= partitioned  # a GPU in MIG mode is handed out by its instances only
    all_gpus = set(to_id)
    all_cpus = set(node_of)

    mine_gpus: List[int] = []
    mine_valid = False
    if current is not None:
        mapped = [to_index.get(g) for g in current.gpu_ids]
        mine_gpus = [g for g in mapped if g is not None and g not in used_gpus]
        mine_valid = len(mine_gpus) == len(mapped)
        cpus_valid = all(c in all_cpus and c not in used_cpus for c in current.alloc_cpus)
        if (mine_valid and cpus_valid and len(mine_gpus) == spec.gpus
                and len(current.alloc_cpus) == spec.cpus
                and (current.numa_policy or spec.numa_policy) == spec.numa_policy):
            return Allocation(mine_gpus, [to_id[g] for g in mine_gpus], list(current.alloc_cpus), node_of, False)

    free_gpus = all_gpus - used_gpus
    free_cpus = all_cpus - used_cpus
    if spec.gpus > len(free_gpus):
        raise SpecError("gpus", spec.gpus, "is more than the %d free of the host's %d GPUs%s"
                        % (len(free_gpus), len(all_gpus), " (%d in MIG mode: ask for mig instances there)"
                           % len(partitioned) if partitioned else ""))
    if spec.cpus > len(free_cpus):
        raise SpecError("cpus", spec.cpus, "is more than the %d free of the host's %d CPUs (%s free)"
                        % (len(free_cpus), len(all_cpus), format_cpuset(free_cpus) or "none"))

    attempts: List[Set[int]] = []
    if mine_gpus and spec.gpus and spec.gpus <= len(mine_gpus):
        # Keep the GPUs it holds: offer placement only those (a subset when it asks for fewer).
        attempts.append(all_gpus - set(mine_gpus))
    attempts.append(used_gpus)
    error: Optional[PlacementError] = None
    for used in attempts:
        try:
            result = place_fn(topology, spec.gpus, spec.cpus, used_gpus=sorted(used),
                              used_cpus=sorted(used_cpus), numa_policy=spec.numa_policy)
        except PlacementError as exc:
            error = exc
            continue
        chosen = [int(g) for g in result["gpus"]]
        cpus = [int(c) for c in result["cpus"]]
        return Allocation(chosen, [to_id[g] for g in chosen], cpus, node_of, True,
                          list(result.get("notes") or []), bool(result.get("numa_local", True)))
    raise SpecError("gpus/cpus", "%d/%d" % (spec.gpus, spec.cpus),
                    "cannot be placed with numa_policy %s: %s" % (spec.numa_policy, error))
