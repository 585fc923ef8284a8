# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""From a host's GPUs as they are (the topology reader: MIG mode and instances) and the layout they should
have, the `nvidia-smi` steps per GPU that differs, and the GPUs that must not be touched because a tenant
holds them (whole, or any of their instances)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.partition.layout import Desired
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import parse_slot


class Change(object):
    """One GPU to change: what it is, what it becomes, and the nvidia-smi arguments that do it, in order."""

    def __init__(self, index: int, before: Dict[str, Any], after: Desired, steps: List[List[str]]) -> None:
        self.index = index
        self.before = before
        self.after = after
        self.steps = steps

    def as_dict(self) -> Dict[str, Any]:
        return {"gpu": self.index, "before": self.before, "after": self.after.as_dict(),
                "commands": ["nvidia-smi " + " ".join(step) for step in self.steps]}


def current_state(gpu: Dict[str, Any]) -> Dict[str, Any]:
    """A GPU's MIG state as the layout speaks of it: mig_enabled and the count of instances per profile."""
    counts: Dict[str, int] = {}
    for inst in gpu.get("mig_instances") or []:
        counts[inst["profile"]] = counts.get(inst["profile"], 0) + 1
    return {"mig_enabled": gpu.get("mig_mode") == "Enabled", "mig_devices": dict(sorted(counts.items()))}


def creates_only(before: Dict[str, Any], want: Desired) -> bool:
    """Whether going from `before` (current_state) to `want` only creates instances: the MIG mode stays and
    the GPU has none now (what a reboot leaves)."""
    return before["mig_enabled"] == want.enabled and not before["mig_devices"]


def plan(topology: Dict[str, Any], desired: Dict[int, Desired], held: Dict[int, str],
         waiting: Optional[Dict[int, List[Tuple[str, str, int]]]] = None) -> Tuple[List[Change], List[str]]:
    """(changes, refusals). A refusal names the GPU and why it cannot be changed; with any refusal the
    caller changes nothing. `waiting` (waiting_slots): a GPU whose instances tenants wait for may only get
    them created again, with room for every waiting slot."""
    by_index = dict((int(g["index"]), g) for g in topology.get("gpus") or [])
    changes: List[Change] = []
    refusals: List[str] = []
    for index in sorted(desired):
        want = desired[index]
        gpu = by_index[index]
        mode = gpu.get("mig_mode")
        if mode is None:
            if want.enabled:
                refusals.append("GPU %d (%s) has no MIG mode: only A100, A30, H100, H200 and newer data-centre GPUs "
                                "can be partitioned" % (index, gpu.get("name") or "unknown model"))
            continue
        before = current_state(gpu)
        if before == want.as_dict():
            continue
        if index in held:
            refusals.append("GPU %d is held by tenant %s: remove the tenant (or move it to another GPU) before "
                            "repartitioning GPU %d" % (index, held[index], index))
            continue
        lost = [w for w in (waiting or {}).get(index, []) if want.devices.get(w[1], 0) <= w[2]]
        if (waiting or {}).get(index) and (lost or not creates_only(before, want)):
            names = sorted(set(w[0] for w in ((waiting or {})[index])))
            refusals.append("GPU %d: tenant %s waits for its MIG instance(s) there to be created again (after a reboot); "
                            "apply the layout it was placed on, or remove the tenant, before repartitioning GPU %d"
                            % (index, ", ".join(names), index))
            continue
        steps: List[List[str]] = []
        if before["mig_enabled"] and gpu.get("mig_instances"):
            steps += [["mig", "-i", str(index), "-dci"], ["mig", "-i", str(index), "-dgi"]]
        if before["mig_enabled"] != want.enabled:
            steps.append(["-i", str(index), "-mig", "1" if want.enabled else "0"])
        if want.enabled and want.profiles():
            steps.append(["mig", "-i", str(index), "-cgi", ",".join(want.profiles()), "-C"])
        changes.append(Change(index, before, want, steps))
    return changes, refusals


def held_gpus(records: List[Any], to_index: Dict[str, int]) -> Dict[int, str]:
    """GPU index -> the tenant (or leftover container) holding it or one of its MIG instances."""
    held: Dict[int, str] = {}
    for record in records:
        for gid in record.gpu_ids:
            if gid in to_index:
                held.setdefault(to_index[gid], record.name or record.container_name)
    return held


def waiting_slots(records: List[Any], to_index: Dict[str, int]) -> Dict[int, List[Tuple[str, str, int]]]:
    """GPU index -> (tenant, profile, rank) of each slot a tenant's label records whose instance is gone (a
    reboot): the tenant gets the instance created there again, so the GPU must get that slot back."""
    waiting: Dict[int, List[Tuple[str, str, int]]] = {}
    for record in records:
        slots = list(record.mig_slots)
        if len(slots) != len(record.gpu_ids):
            continue
        for gid, slot in zip(record.gpu_ids, slots):
            parsed = parse_slot(slot)
            if gid not in to_index and parsed is not None and parsed[0] in to_index:
                waiting.setdefault(to_index[parsed[0]], []).append((record.name or record.container_name, parsed[1], parsed[2]))
    return waiting
