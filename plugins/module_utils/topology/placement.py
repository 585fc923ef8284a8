# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NUMA- and NVLink-aware placement of one tenant's GPUs and CPUs (DESIGN.md, "Placement").

Hard constraints: only free GPUs, exactly `gpus` of them, `cpus` logical CPUs no other tenant
uses, whole physical cores before lone hyperthreads; with numa_policy strict the CPUs must come
from the chosen GPUs' NUMA nodes. Among feasible GPU sets the order of preference is:

1. (best-effort only) sets whose own NUMA nodes can hold the CPUs;
2. the best weakest link (NV# > PIX > PXB > PHB > NODE > SYS, more NVLinks better);
3. the fewest NUMA nodes;
4. the highest sum of pair scores;
5. best fit: the remaining free GPUs spread over the fewest NUMA nodes, then the highest sum of
   pair scores among them;
6. the lowest indices.

Up to EXACT_LIMIT free GPUs the search is exact (depth-first over subsets, pruned on 2-3); beyond
it a bounded greedy search grows one candidate from each free GPU and keeps the best by the
same order. Same input, same answer.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import (
    DEFAULT_REMOTE_DISTANCE, TopologyError, check_topology, link_score, pair_key)

EXACT_LIMIT = 16
NUMA_POLICIES = ("strict", "best-effort")
_NO_LINK = 0  # a pair the topology does not describe scores below SYS
_SINGLE = 10 ** 6  # weakest link of a one-GPU set: no link to weaken it


class PlacementError(ValueError):
    """A placement that cannot be made; the message names the constraint that failed."""


def place(topology: Dict[str, Any], gpus: int, cpus: int, used_gpus: Iterable[int] = (), used_cpus: Iterable[int] = (),
          numa_policy: str = "strict") -> Dict[str, Any]:
    """Choose `gpus` GPUs and `cpus` logical CPUs for one tenant; see the module docstring.

    Returns {gpus, cpus, cpuset, numa_nodes, numa_local, score, notes}; raises PlacementError.
    """
    try:
        topo = check_topology(topology)
    except TopologyError as exc:
        raise PlacementError("bad topology: %s" % exc)
    want_gpus = _count(gpus, "gpus")
    want_cpus = _count(cpus, "cpus")
    if numa_policy not in NUMA_POLICIES:
        raise PlacementError("numa_policy must be one of %s, got %r" % (", ".join(NUMA_POLICIES), numa_policy))
    ctx = _Context(topo, used_gpus, used_cpus)

    free_gpus = ctx.free_gpus
    if want_gpus > len(free_gpus):
        raise PlacementError("requested %d GPUs, %d free%s" % (
            want_gpus, len(free_gpus),
            " (indices %s)" % ",".join(str(g) for g in free_gpus) if free_gpus else ""))
    if want_cpus > len(ctx.free_cpus):
        raise PlacementError("requested %d CPUs, %d free%s" % (
            want_cpus, len(ctx.free_cpus),
            " (%s)" % format_cpuset(ctx.free_cpus) if ctx.free_cpus else ""))

    best_effort = numa_policy == "best-effort"
    notes = list(ctx.notes)
    chosen: List[int] = []
    key: Optional[Tuple[Any, ...]] = None
    if want_gpus:
        chosen, key = _choose_gpus(ctx, want_gpus, want_cpus, best_effort)
        home = ctx.home_nodes(chosen)
        if not home and want_cpus:
            home = [ctx.roomiest_node(want_cpus)]
            notes.append("the NUMA node of GPU(s) %s is unknown; CPUs come from node %d"
                         % (",".join(str(g) for g in chosen), home[0]))
    elif want_cpus:
        home = [ctx.roomiest_node(want_cpus)]
    else:
        home = []

    picked, spilled = ctx.pick_cpus(home, chosen, want_cpus, best_effort)
    numa_local = not spilled
    if spilled:
        by_node: Dict[int, int] = {}
        for cpu in spilled:
            by_node[ctx.cpu_node[cpu]] = by_node.get(ctx.cpu_node[cpu], 0) + 1
        notes.append("numa_policy best-effort: %d of %d CPUs spilled outside NUMA node(s) %s to the nearest: %s" % (
            len(spilled), want_cpus, ",".join(str(n) for n in home),
            ", ".join("%d on node %d (distance %d)" % (count, node, ctx.distance_from(home, node))
                      for node, count in sorted(by_node.items()))))
    cpu_nodes = set(ctx.cpu_node[c] for c in picked)
    gpu_nodes = set(ctx.gpu_node[g] for g in chosen if ctx.gpu_node[g] >= 0)
    whole, lone = ctx.count_cores(picked)
    score: Dict[str, Any] = {
        "weakest_link": None,
        "weakest_link_score": None,
        "pair_score_sum": 0,
        "numa_node_count": len(gpu_nodes),
        "remaining_gpu_numa_nodes": None,
        "remaining_pair_score_sum": None,
        "whole_cores": whole,
        "lone_threads": lone,
        "spilled_cpus": len(spilled),
    }
    if key is not None:
        score["weakest_link_score"] = key[1] if key[1] != _SINGLE else None
        score["weakest_link"] = ctx.weakest_label(chosen)
        score["pair_score_sum"] = key[3]
        score["remaining_gpu_numa_nodes"] = -key[4]
        score["remaining_pair_score_sum"] = key[5]
    return {
        "gpus": chosen,
        "cpus": picked,
        "cpuset": format_cpuset(picked),
        "numa_nodes": sorted(gpu_nodes | cpu_nodes),
        "numa_local": numa_local,
        "score": score,
        "notes": notes,
    }


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise PlacementError("%s must be a whole number >= 0, got %r" % (what, value))
    if value < 0:
        raise PlacementError("%s must be >= 0, got %d" % (what, value))
    return value


class _Context(object):
    """Free GPUs and CPUs of one topology, with the lookups the search needs."""

    def __init__(self, topo: Dict[str, Any], used_gpus: Iterable[int], used_cpus: Iterable[int]) -> None:
        self.notes: List[str] = []
        self.gpu_node = dict((g["index"], g["numa_node"]) for g in topo["gpus"])
        used_g = set(int(g) for g in used_gpus)
        unknown = sorted(used_g - set(self.gpu_node))
        if unknown:
            self.notes.append("used_gpus names GPU(s) %s, not in the topology; ignored"
                              % ",".join(str(g) for g in unknown))
        self.free_gpus = sorted(g for g in self.gpu_node if g not in used_g)
        self.links = topo["links"]
        allowed = topo.get("cpus_allowed")
        allowed = set(allowed) if allowed is not None else None
        self.cpu_node: Dict[int, int] = {}
        for node, info in topo["numa_nodes"].items():
            for cpu in info["cpus"]:
                if allowed is None or cpu in allowed:
                    self.cpu_node[cpu] = int(node)
        self.node_ids = sorted(int(n) for n in topo["numa_nodes"])
        self.distances = dict((int(n), dict((int(o), d) for o, d in info["distance"].items()))
                              for n, info in topo["numa_nodes"].items())
        used_c = set(int(c) for c in used_cpus)
        self.free_cpus = sorted(c for c in self.cpu_node if c not in used_c)
        free_set = set(self.free_cpus)
        # A sibling we may not use (outside cpus_allowed, or used) makes its core's other
        # threads lone hyperthreads.
        self.core_of: Dict[int, Tuple[int, ...]] = {}
        for group in topo.get("siblings") or []:
            members = tuple(sorted(group))
            for cpu in members:
                if cpu in self.cpu_node:
                    self.core_of[cpu] = members
        for cpu in self.cpu_node:
            self.core_of.setdefault(cpu, (cpu,))
        self.whole: Dict[int, List[Tuple[int, ...]]] = dict((n, []) for n in self.node_ids)
        self.lone: Dict[int, List[int]] = dict((n, []) for n in self.node_ids)
        seen = set()
        for cpu in self.free_cpus:
            core = self.core_of[cpu]
            node = self.cpu_node[cpu]
            if all(c in free_set for c in core):
                if core not in seen:
                    seen.add(core)
                    self.whole[node].append(core)
            else:
                self.lone[node].append(cpu)
        self.capacity = dict((n, sum(len(c) for c in self.whole[n]) + len(self.lone[n])) for n in self.node_ids)

    # -- GPUs -------------------------------------------------------------------------------
    def score(self, i: int, j: int) -> int:
        label = self.links.get(pair_key(i, j))
        return link_score(label) if label else _NO_LINK

    def weakest_label(self, chosen: List[int]) -> Optional[str]:
        worst = None
        for a in range(len(chosen)):
            for b in range(a + 1, len(chosen)):
                label = self.links.get(pair_key(chosen[a], chosen[b]))
                value = link_score(label) if label else _NO_LINK
                if worst is None or value < worst[0]:
                    worst = (value, label)
        return worst[1] if worst else None

    def home_nodes(self, chosen: List[int]) -> List[int]:
        return sorted(set(self.gpu_node[g] for g in chosen if self.gpu_node[g] >= 0))

    # -- CPUs -------------------------------------------------------------------------------
    def roomiest_node(self, count: int = 0) -> int:
        """Among nodes with room for `count` CPUs (all nodes if none has), the one with the
        most free whole cores, then the most free CPUs, then the lowest id."""
        if not self.node_ids:
            raise PlacementError("the topology lists no NUMA nodes, so no CPUs can be placed")
        fits = [n for n in self.node_ids if self.capacity[n] >= count] or self.node_ids
        return max(fits, key=lambda n: (len(self.whole[n]), self.capacity[n], -n))

    def distance_from(self, home: List[int], node: int) -> int:
        values = [self.distances.get(h, {}).get(node, DEFAULT_REMOTE_DISTANCE) for h in home]
        return min(values) if values else DEFAULT_REMOTE_DISTANCE

    def count_cores(self, picked: List[int]) -> Tuple[int, int]:
        chosen = set(picked)
        whole = lone = 0
        seen = set()
        for cpu in picked:
            core = self.core_of[cpu]
            if core in seen:
                continue
            seen.add(core)
            if all(c in chosen for c in core):
                whole += 1
            else:
                lone += len([c for c in core if c in chosen])
        return whole, lone

    def pick_cpus(self, home: List[int], chosen: List[int], count: int, best_effort: bool) -> Tuple[List[int], List[int]]:
        """CPUs from the home nodes (shared in proportion to their GPUs), whole cores first;
        under best-effort the rest from the nearest other nodes. Returns (picked, spilled)."""
        if count == 0:
            return [], []
        local_room = sum(self.capacity[n] for n in home)
        if local_room < count and not best_effort:
            if chosen:
                raise PlacementError(
                    "numa_policy strict: requested %d CPUs on NUMA node(s) %s of GPU(s) %s, %d free there; "
                    "use numa_policy best-effort to spill to the nearest node"
                    % (count, ",".join(str(n) for n in home), ",".join(str(g) for g in chosen), local_room))
            raise PlacementError(
                "numa_policy strict: requested %d CPUs with no GPUs, but no single NUMA node has that many "
                "free (most: %d on node %d); use numa_policy best-effort to spill to the nearest node"
                % (count, self.capacity[home[0]], home[0]))
        quotas = self._quotas(home, chosen, min(count, local_room))
        picked: List[int] = []
        for node in home:
            picked.extend(self._take(node, quotas[node]))
        spilled: List[int] = []
        rest = count - len(picked)
        if rest:
            others = sorted((n for n in self.node_ids if n not in home),
                            key=lambda n: (self.distance_from(home, n), n))
            for node in others:
                take = self._take(node, min(rest, self.capacity[node]))
                spilled.extend(take)
                rest -= len(take)
                if not rest:
                    break
        return sorted(picked + spilled), sorted(spilled)

    def _quotas(self, home: List[int], chosen: List[int], count: int) -> Dict[int, int]:
        """Split `count` over the home nodes by their share of GPUs, in whole-core units; a node
        short of whole cores passes its share to the others before anyone takes lone threads."""
        if len(home) == 1:
            return {home[0]: count}
        weight = dict((n, len([g for g in chosen if self.gpu_node[g] == n]) or 1) for n in home)
        unit = max([len(self.core_of[c]) for c in self.free_cpus] or [1])
        whole_room = dict((n, sum(len(core) for core in self.whole[n])) for n in home)
        total_w = sum(weight.values())
        order = sorted(home, key=lambda n: (-weight[n], n))
        quotas = dict((n, min((count // unit) * weight[n] // total_w * unit, whole_room[n])) for n in home)
        left = count - sum(quotas.values())
        for room in (whole_room, self.capacity):
            # A unit at a time, most-GPU node first, within whole cores, then within all free CPUs.
            while left > 0:
                progressed = False
                for node in order:
                    step = min(unit, left, room[node] - quotas[node])
                    if step > 0:
                        quotas[node] += step
                        left -= step
                        progressed = True
                    if left <= 0:
                        break
                if not progressed:
                    break
        return quotas

    def _take(self, node: int, count: int) -> List[int]:
        """`count` free CPUs of one node: whole cores (lowest first); a remainder from lone
        hyperthreads before splitting another whole core."""
        out: List[int] = []
        cores = self.whole[node]
        used_cores = 0
        for core in cores:
            if len(core) > count - len(out):
                break
            out.extend(core)
            used_cores += 1
        for cpu in self.lone[node]:
            if len(out) >= count:
                break
            out.append(cpu)
        for core in cores[used_cores:]:
            for cpu in core:
                if len(out) >= count:
                    break
                out.append(cpu)
        return out[:count]


def _earlier_twins(nodes: List[int], score: List[List[int]]) -> List[int]:
    """For each free GPU (by position), the nearest lower position of a GPU interchangeable with it
    (same NUMA node, same link score to every other free GPU), else -1. Swapping twins changes no
    part of a candidate's key but the index tie-break, which prefers lower indices: the search takes
    twins in index order only, and stays exact (an NVSwitch box has one class per NUMA node)."""
    n = len(nodes)
    twins = [-1] * n
    for pos in range(n):
        for earlier in range(pos - 1, -1, -1):
            if nodes[earlier] == nodes[pos] and all(
                    score[pos][x] == score[earlier][x] for x in range(n) if x not in (pos, earlier)):
                twins[pos] = earlier
                break
    return twins


def _choose_gpus(ctx: _Context, k: int, c: int, best_effort: bool) -> Tuple[List[int], Tuple[Any, ...]]:
    free = ctx.free_gpus
    n = len(free)
    nodes = [ctx.gpu_node[g] for g in free]
    score = [[ctx.score(a, b) if a != b else 0 for b in free] for a in free]
    rowsum = [sum(row) for row in score]
    total_pairs = sum(rowsum) // 2
    free_per_node: Dict[int, int] = {}
    for node in nodes:
        free_per_node[node] = free_per_node.get(node, 0) + 1
    room_cache: Dict[Tuple[int, ...], int] = {}

    def room(node_set: Tuple[int, ...]) -> int:
        if node_set not in room_cache:
            known = [x for x in node_set if x >= 0]
            room_cache[node_set] = (sum(ctx.capacity[x] for x in known) if known
                                    else ctx.capacity[ctx.roomiest_node(c)] if ctx.node_ids else 0)
        return room_cache[node_set]

    def leaf_key(members: List[int], weakest: int, counts: Dict[int, int], pair_sum: int, row_total: int) -> Optional[Tuple[Any, ...]]:
        node_set = tuple(sorted(counts))
        local_ok = room(node_set) >= c
        if not local_ok and not best_effort:
            return None
        remaining_nodes = len([x for x, cnt in free_per_node.items() if cnt > counts.get(x, 0)])
        remaining_sum = total_pairs - row_total + pair_sum
        known = len([x for x in node_set if x >= 0])
        return (1 if (local_ok or not best_effort) else 0, weakest, -known, pair_sum,
                -remaining_nodes, remaining_sum, tuple(-free[p] for p in members))

    best: List[Any] = [None, None]
    fallback: List[Any] = [None]

    def consider(members: List[int], weakest: int, counts: Dict[int, int], pair_sum: int, row_total: int) -> None:
        key = leaf_key(members, weakest, counts, pair_sum, row_total)
        if key is None:
            node_set = tuple(sorted(counts))
            if fallback[0] is None or room(node_set) > fallback[0][0]:
                fallback[0] = (room(node_set), [free[p] for p in members], node_set)
            return
        if best[0] is None or key > best[0]:
            best[0] = key
            best[1] = [free[p] for p in members]

    def bound_ok(weakest: int, counts: Dict[int, int]) -> bool:
        if best[0] is None:
            return True
        known = len([x for x in counts if x >= 0])
        return (1, weakest, -known) >= best[0][:3]

    if n <= EXACT_LIMIT:
        members: List[int] = []
        counts: Dict[int, int] = {}
        chosen = [False] * n
        twin = _earlier_twins(nodes, score)

        def dfs(start: int, weakest: int, pair_sum: int, row_total: int) -> None:
            if len(members) == k:
                consider(members, weakest, counts, pair_sum, row_total)
                return
            need = k - len(members)
            for pos in range(start, n - need + 1):
                if twin[pos] >= 0 and not chosen[twin[pos]]:
                    continue  # an interchangeable GPU with a lower index is free: take that one first
                new_weak = weakest
                add = 0
                row = score[pos]
                for m in members:
                    s = row[m]
                    add += s
                    if s < new_weak:
                        new_weak = s
                node = nodes[pos]
                counts[node] = counts.get(node, 0) + 1
                if bound_ok(new_weak, counts):
                    members.append(pos)
                    chosen[pos] = True
                    dfs(pos + 1, new_weak, pair_sum + add, row_total + rowsum[pos])
                    chosen[pos] = False
                    members.pop()
                counts[node] -= 1
                if not counts[node]:
                    del counts[node]

        dfs(0, _SINGLE, 0, 0)
    else:
        for seed in range(n):
            members = [seed]
            counts = {nodes[seed]: 1}
            weakest, pair_sum, row_total = _SINGLE, 0, rowsum[seed]
            while len(members) < k:
                pick = None
                for pos in range(n):
                    if pos in members:
                        continue
                    w = min([weakest] + [score[pos][m] for m in members])
                    grows = 0 if nodes[pos] in counts else 1
                    gain = sum(score[pos][m] for m in members)
                    cand = (w, -grows, gain, -rowsum[pos], -pos)
                    if pick is None or cand > pick[0]:
                        pick = (cand, pos, gain)
                pos = pick[1]
                weakest = pick[0][0]
                pair_sum += pick[2]
                row_total += rowsum[pos]
                members.append(pos)
                counts[nodes[pos]] = counts.get(nodes[pos], 0) + 1
            members.sort()
            consider(members, weakest, counts, pair_sum, row_total)

    if best[1] is None:
        most = fallback[0]
        raise PlacementError(
            "numa_policy strict: no %d free GPU(s) have %d free CPUs on their own NUMA node(s)%s; "
            "use numa_policy best-effort to spill to the nearest node"
            % (k, c, " (at most %d, on node(s) %s for GPU(s) %s)" % (
                most[0], ",".join(str(x) for x in most[2]), ",".join(str(g) for g in most[1])) if most else ""))
    return best[1], best[0]
