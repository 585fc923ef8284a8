# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Placement of one tenant's MIG instances and CPUs (docs/placement.md, "MIG instances").

Hard constraints: exactly `count` free instances of the asked profile (not held by another tenant,
not on a GPU another tenant holds whole), `cpus` free logical CPUs, whole cores first; with
numa_policy strict the instances and the CPUs share one NUMA node. Among the feasible choices:

1. the fewest untouched GPUs (a GPU none of whose instances is held): partly used GPUs fill up
   first, so untouched ones stay free for a repartition or a large profile;
2. the fewest GPUs;
3. the most instances already held on the GPUs it touches;
4. the NUMA node with the most free CPUs, then the lowest node id.

Within a choice, instances are taken from the most-held GPU first, then lowest (gi, ci, uuid).
Same input, same answer.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import MAX_INSTANCES, PROFILE_RE
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError, check_topology
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.placement import (
    NUMA_POLICIES, PlacementError, _Context)


def place_mig(topology: Dict[str, Any], profile: str, count: int, cpus: int, used_instances: Iterable[str] = (),
              used_gpus: Iterable[int] = (), used_cpus: Iterable[int] = (), numa_policy: str = "strict") -> Dict[str, Any]:
    """Choose `count` MIG instances of `profile` and `cpus` CPUs; see the module docstring.

    Returns {instances: [MIG UUID], gpus: [parent index], cpus, cpuset, numa_nodes, numa_local, notes};
    raises PlacementError naming the constraint that failed.
    """
    try:
        topo = check_topology(topology)
    except TopologyError as exc:
        raise PlacementError("bad topology: %s" % exc)
    if not isinstance(profile, str) or not PROFILE_RE.match(profile):
        raise PlacementError("MIG profile must look like 1g.10gb, got %r" % (profile,))
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_INSTANCES:
        raise PlacementError("MIG instance count must be an integer from 1 to %d, got %r" % (MAX_INSTANCES, count))
    if numa_policy not in NUMA_POLICIES:
        raise PlacementError("numa_policy must be one of %s, got %r" % (", ".join(NUMA_POLICIES), numa_policy))
    ctx = _Context(topo, used_gpus, used_cpus)
    if isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 0:
        raise PlacementError("cpus must be a non-negative integer, got %r" % (cpus,))
    if cpus > len(ctx.free_cpus):
        raise PlacementError("requested %d CPUs, %d free%s" % (
            cpus, len(ctx.free_cpus), " (%s)" % format_cpuset(ctx.free_cpus) if ctx.free_cpus else ""))
    held = set(used_instances)
    free_by_gpu, held_by_gpu = _free_instances(topo, ctx, profile, held)
    total = sum(len(v) for v in free_by_gpu.values())
    if total < count:
        raise PlacementError("requested %d MIG instance(s) of profile %s, %d free (free instances: %s)"
                             % (count, profile, total, _free_summary(topo, ctx, held)))

    groups = _groups(ctx, free_by_gpu)
    best: Optional[Tuple[Any, ...]] = None
    for node, gpus in groups:
        home = [node] if node >= 0 else [ctx.roomiest_node(cpus)]
        if ctx.capacity[home[0]] < cpus and numa_policy == "strict":
            continue
        chosen = _take(gpus, free_by_gpu, held_by_gpu, count)
        if chosen is None:
            continue
        key = _key(chosen, held_by_gpu) + (-ctx.capacity[home[0]], home[0])
        if best is None or key < best[0]:
            best = (key, chosen, home, node)
    notes = list(ctx.notes)
    if best is None:
        if numa_policy == "strict":
            raise PlacementError(
                "numa_policy strict: no NUMA node has %d free MIG instance(s) of profile %s and %d free CPUs (%s); "
                "use numa_policy best-effort to take CPUs from another node"
                % (count, profile, cpus, "; ".join(
                    "node %s: %d instance(s), %d CPUs" % (
                        n if n >= 0 else "unknown", sum(len(free_by_gpu[g]) for g in gs),
                        ctx.capacity[n] if n >= 0 else len(ctx.free_cpus))
                    for n, gs in groups)))
        everything = sorted(free_by_gpu)
        chosen = _take(everything, free_by_gpu, held_by_gpu, count) or []
        home = ctx.home_nodes(sorted(set(gpu for gpu, _inst in chosen))) or [ctx.roomiest_node(cpus)]
        node = home[0]
    else:
        _key_value, chosen, home, node = best
    gpus_used = sorted(set(gpu for gpu, _inst in chosen))
    if node < 0:
        notes.append("the NUMA node of GPU(s) %s is unknown; CPUs come from node %d"
                     % (",".join(str(g) for g in gpus_used), home[0]))
    picked, spilled = ctx.pick_cpus(home, gpus_used, cpus, numa_policy == "best-effort")
    if spilled:
        notes.append("numa_policy best-effort: %d of %d CPUs outside NUMA node(s) %s"
                     % (len(spilled), cpus, ",".join(str(n) for n in home)))
    cpu_nodes = set(ctx.cpu_node[c] for c in picked)
    gpu_nodes = set(ctx.gpu_node[g] for g in gpus_used if ctx.gpu_node[g] >= 0)
    return {
        "instances": [inst["uuid"] for _gpu, inst in chosen],
        "gpus": gpus_used,
        "cpus": picked,
        "cpuset": format_cpuset(picked),
        "numa_nodes": sorted(gpu_nodes | cpu_nodes),
        "numa_local": not spilled and (not gpu_nodes or cpu_nodes <= gpu_nodes),
        "notes": notes,
    }


def _free_instances(topo: Dict[str, Any], ctx: _Context, profile: str,
                    held: set) -> Tuple[Dict[int, List[Dict[str, Any]]], Dict[int, int]]:
    """GPU -> its free instances of `profile` (GPUs held whole are skipped), and GPU -> instances held."""
    free: Dict[int, List[Dict[str, Any]]] = {}
    held_count: Dict[int, int] = {}
    whole_free = set(ctx.free_gpus)
    for gpu in topo["gpus"]:
        instances = gpu.get("mig_instances") or []
        held_count[gpu["index"]] = len([i for i in instances if i["uuid"] in held])
        if gpu["index"] not in whole_free:
            continue
        mine = [i for i in instances if i["profile"] == profile and i["uuid"] not in held]
        if mine:
            free[gpu["index"]] = mine
    return free, held_count


def _free_summary(topo: Dict[str, Any], ctx: _Context, held: set) -> str:
    counts: Dict[str, int] = {}
    whole_free = set(ctx.free_gpus)
    for gpu in topo["gpus"]:
        if gpu["index"] not in whole_free:
            continue
        for inst in gpu.get("mig_instances") or []:
            if inst["uuid"] not in held:
                counts[inst["profile"]] = counts.get(inst["profile"], 0) + 1
    return ", ".join("%s x%d" % item for item in sorted(counts.items())) or "none"


def _groups(ctx: _Context, free_by_gpu: Dict[int, List[Dict[str, Any]]]) -> List[Tuple[int, List[int]]]:
    """(NUMA node, its GPUs with free instances); GPUs of unknown node form the group -1."""
    by_node: Dict[int, List[int]] = {}
    for gpu in sorted(free_by_gpu):
        by_node.setdefault(ctx.gpu_node[gpu], []).append(gpu)
    return sorted(by_node.items())


def _take(gpus: List[int], free_by_gpu: Dict[int, List[Dict[str, Any]]], held_by_gpu: Dict[int, int],
          count: int) -> Optional[List[Tuple[int, Dict[str, Any]]]]:
    """`count` instances from `gpus`: partly used GPUs first (most held first), then untouched GPUs with
    the most free instances (so the fewest are touched); None when they hold too few."""
    order = sorted(gpus, key=lambda g: (held_by_gpu[g] == 0, -held_by_gpu[g], -len(free_by_gpu[g]), g))
    chosen: List[Tuple[int, Dict[str, Any]]] = []
    for gpu in order:
        for inst in free_by_gpu[gpu]:
            if len(chosen) == count:
                return chosen
            chosen.append((gpu, inst))
    return chosen if len(chosen) == count else None


def _key(chosen: List[Tuple[int, Dict[str, Any]]], held_by_gpu: Dict[int, int]) -> Tuple[int, int, int]:
    gpus = set(gpu for gpu, _inst in chosen)
    untouched = len([g for g in gpus if held_by_gpu[g] == 0])
    return (untouched, len(gpus), -sum(held_by_gpu[g] for g in gpus))
