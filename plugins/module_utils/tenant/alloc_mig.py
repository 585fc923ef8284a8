# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A tenant's MIG instances and CPUs: keep what it holds while still valid (same profile and count, not
taken by another tenant, CPUs unchanged), place only when it is new or its request changed."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import TenantRecord
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, TenantSpec
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import instance_index, instance_slots, is_mig_uuid, slot_instances
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig_placement import place_mig
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.placement import PlacementError


def held_by_others(others: List[TenantRecord], topology: Dict[str, Any], instances: Dict[str, Dict[str, Any]],
                   to_index: Dict[str, int]) -> Tuple[Set[str], Set[int], Set[int]]:
    """(MIG instances, GPUs held whole, CPUs) that other tenants hold; a tenant whose instances were
    created again (a reboot) holds the ones now in its slots, which it gets back when it is next applied."""
    held_instances: Set[str] = set()
    whole: Set[int] = set()
    cpus: Set[int] = set()
    now = slot_instances(topology)
    for record in others:
        for gid in held_ids(record, instances, now):
            if gid in instances:
                held_instances.add(gid)
            elif gid in to_index:
                whole.add(to_index[gid])
        cpus.update(record.alloc_cpus)
        cpus.update(record.cpus)
    return held_instances, whole, cpus


def allocate_mig(spec: TenantSpec, current: Optional[TenantRecord], others: List[TenantRecord],
                 topology: Dict[str, Any], to_index: Dict[str, int], node_of: Dict[int, int]) -> Dict[str, Any]:
    """{gpu_indices, gpu_ids (MIG UUIDs), cpus, placed, notes, numa_local}; SpecError naming `mig`."""
    profile, count = spec.mig or ("", 0)
    instances = instance_index(topology)
    held, whole, used_cpus = held_by_others(others, topology, instances, to_index)
    slots = instance_slots(topology)
    mine: List[str] = held_ids(current, instances, slot_instances(topology)) if current is not None else []
    mine_ok = bool(mine) and all(g in instances and instances[g]["profile"] == profile and g not in held
                                 and instances[g]["gpu"] not in whole for g in mine)
    if current is not None and mine_ok and len(mine) == count:
        cpus_ok = all(c in node_of and c not in used_cpus for c in current.alloc_cpus)
        if (cpus_ok and len(current.alloc_cpus) == spec.cpus
                and (current.numa_policy or spec.numa_policy) == spec.numa_policy):
            return allocation_args(sorted(set(instances[g]["gpu"] for g in mine)), mine, list(current.alloc_cpus), False, [], True,
                                   [slots[g] for g in mine])
    attempts: List[Set[str]] = []
    if mine_ok and len(mine) >= count:
        attempts.append(set(instances) - set(mine))  # keep its instances when it asks for fewer or other CPUs
    attempts.append(held)
    error: Optional[PlacementError] = None
    for used in attempts:
        try:
            result = place_mig(topology, profile, count, spec.cpus, used_instances=sorted(used), used_gpus=sorted(whole),
                               used_cpus=sorted(used_cpus), numa_policy=spec.numa_policy)
        except PlacementError as exc:
            error = exc
            continue
        return allocation_args(result["gpus"], result["instances"], result["cpus"], True,
                               list(result["notes"]), bool(result["numa_local"]), [slots[g] for g in result["instances"]])
    raise SpecError("mig", "%s x%d" % (profile, count), "cannot be placed with %d CPUs and numa_policy %s: %s"
                    % (spec.cpus, spec.numa_policy, error))


def held_ids(record: TenantRecord, instances: Dict[str, Dict[str, Any]], now: Dict[str, str]) -> List[str]:
    """A tenant's device IDs; when its MIG instances are gone (created again after a reboot) and every slot
    its label records holds an instance (`now`: slot -> UUID), the UUIDs in those slots."""
    ids = list(record.gpu_ids)
    slots = record.mig_slots
    if any(is_mig_uuid(g) and g not in instances for g in ids) and len(slots) == len(ids) and all(s in now for s in slots):
        return [now[s] for s in slots]
    return ids


def allocation_args(gpus: List[int], ids: List[str], cpus: List[int], placed: bool, notes: List[str],
                    numa_local: bool, slots: Optional[List[str]] = None) -> Dict[str, Any]:
    """Allocation's arguments but the NUMA lookup (alloc.allocate adds it), for MIG and shared placements alike."""
    return {"gpu_indices": gpus, "gpu_ids": ids, "cpus": cpus, "placed": placed, "notes": notes, "numa_local": numa_local,
            "slots": slots or []}
