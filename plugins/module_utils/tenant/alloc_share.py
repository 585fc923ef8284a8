# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A tenant's shared GPUs (gpu_share, time-sliced) and CPUs. A shared GPU is one only tenants that asked to
share hold: never a GPU a dedicated tenant holds, never one in MIG mode, and never handed to a dedicated
tenant while a sharer holds it (whole-GPU placement counts every holder). Among the GPUs it may get, a tenant
goes to GPUs already shared first (fewest sharers first, up to MAX_SHARERS), so GPUs stay whole for dedicated
tenants; the GPUs and the CPUs share a NUMA node under numa_policy strict."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc_mig import allocation_args
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import TenantRecord
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, TenantSpec
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import mig_gpus
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import check_topology
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.placement import PlacementError, _Context

MAX_SHARERS = 8  # time slices of one GPU: beyond this a tenant's share is too thin to be useful


def holders(others: List[TenantRecord], to_index: Dict[str, int]) -> Tuple[Dict[int, int], Set[int], Set[int]]:
    """(GPU -> how many sharers hold it, GPUs a dedicated or MIG tenant holds, CPUs held)."""
    sharers: Dict[int, int] = {}
    dedicated: Set[int] = set()
    cpus: Set[int] = set()
    for record in others:
        for gid in record.gpu_ids:
            if gid not in to_index:
                continue
            if record.gpu_share:
                sharers[to_index[gid]] = sharers.get(to_index[gid], 0) + 1
            else:
                dedicated.add(to_index[gid])
        cpus.update(record.alloc_cpus)
        cpus.update(record.cpus)
    return sharers, dedicated, cpus


def allocate_shared(spec: TenantSpec, current: Optional[TenantRecord], others: List[TenantRecord],
                    topology: Dict[str, Any], to_id: Dict[int, str], to_index: Dict[str, int],
                    node_of: Dict[int, int]) -> Dict[str, Any]:
    """{gpu_indices, gpu_ids, cpus, placed, notes, numa_local}; SpecError naming gpu_share."""
    count, mode = spec.gpu_share or (0, "")
    sharers, dedicated, used_cpus = holders(others, to_index)
    blocked = dedicated | set(mig_gpus(topology)) | set(g for g, n in sharers.items() if n >= MAX_SHARERS)
    mine = [to_index.get(g) for g in current.gpu_ids] if current is not None and current.gpu_share else []
    if (current is not None and mine and None not in mine and len(mine) == count and not set(mine) & blocked
            and all(c in node_of and c not in used_cpus for c in current.alloc_cpus)
            and len(current.alloc_cpus) == spec.cpus and (current.numa_policy or spec.numa_policy) == spec.numa_policy):
        gpus = [g for g in mine if g is not None]
        return allocation_args(gpus, [to_id[g] for g in gpus], list(current.alloc_cpus), False, [], True)
    ctx = _Context(check_topology(topology), sorted(blocked), sorted(used_cpus))
    try:
        gpus, home = _choose(ctx, sharers, count, spec.cpus, spec.numa_policy)
        picked, spilled = ctx.pick_cpus(home, gpus, spec.cpus, spec.numa_policy == "best-effort")
    except PlacementError as exc:
        raise SpecError("gpu_share", "%d %s" % (count, mode), "cannot be placed with %d CPUs and numa_policy %s: %s"
                        % (spec.cpus, spec.numa_policy, exc))
    notes = ["shares GPU(s) %s with %s" % (",".join(str(g) for g in gpus), ", ".join(
        "%d other tenant(s) on GPU %d" % (sharers[g], g) for g in gpus if sharers.get(g)) or "no other tenant yet")]
    if spilled:
        notes.append("numa_policy best-effort: %d of %d CPUs outside NUMA node(s) %s"
                     % (len(spilled), spec.cpus, ",".join(str(n) for n in home)))
    return allocation_args(gpus, [to_id[g] for g in gpus], picked, True, notes, not spilled)


def _choose(ctx: _Context, sharers: Dict[int, int], count: int, cpus: int, policy: str) -> Tuple[List[int], List[int]]:
    """`count` GPUs on one NUMA node with room for the CPUs (any node under best-effort): shared ones first."""
    def order(gpu: int) -> Any:
        return (sharers.get(gpu, 0) == 0, sharers.get(gpu, 0), gpu)
    by_node: Dict[int, List[int]] = {}
    for gpu in ctx.free_gpus:
        by_node.setdefault(ctx.gpu_node[gpu], []).append(gpu)
    best = None
    for node, gpus in sorted(by_node.items()):
        home = [node] if node >= 0 else [ctx.roomiest_node(cpus)]
        if len(gpus) < count or (policy == "strict" and ctx.capacity[home[0]] < cpus):
            continue
        chosen = sorted(gpus, key=order)[:count]
        key = (len([g for g in chosen if not sharers.get(g)]), sum(sharers.get(g, 0) for g in chosen), -ctx.capacity[home[0]], home[0])
        if best is None or key < best[0]:
            best = (key, sorted(chosen), home)
    if best is not None:
        return best[1], best[2]
    if policy == "best-effort" and len(ctx.free_gpus) >= count:
        chosen = sorted(sorted(ctx.free_gpus, key=order)[:count])
        return chosen, ctx.home_nodes(chosen) or [ctx.roomiest_node(cpus)]
    raise PlacementError("%d GPU(s) that may be shared (not held by a dedicated tenant, not in MIG mode, fewer than %d "
                         "sharers) on one NUMA node with %d free CPUs: %s" % (count, MAX_SHARERS, cpus, "; ".join(
                             "node %s: %d GPU(s), %d CPUs" % (n if n >= 0 else "unknown", len(g), ctx.capacity[n] if n >= 0 else len(ctx.free_cpus))
                             for n, g in sorted(by_node.items())) or "none"))
