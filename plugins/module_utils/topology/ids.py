# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lookups over a topology dict that every reader of the tenant ledger needs (placement, metrics, report,
partitioning): the IDs Docker is given for GPUs and back, and each CPU's NUMA node."""

from __future__ import annotations

from typing import Any, Dict, Tuple


def gpu_ids(topology: Dict[str, Any]) -> Tuple[Dict[int, str], Dict[str, int]]:
    """GPU index -> Docker device ID (the UUID when the topology has one, else the index), and
    back (from UUIDs and from index text, so containers made either way are read back; a MIG
    instance's UUID maps to its GPU's index)."""
    to_id: Dict[int, str] = {}
    to_index: Dict[str, int] = {}
    for gpu in topology.get("gpus") or []:
        index = int(gpu["index"])
        uuid = gpu.get("uuid") or ""
        to_id[index] = uuid or str(index)
        to_index[str(index)] = index
        if uuid:
            to_index[uuid] = index
        for inst in gpu.get("mig_instances") or []:
            to_index[inst["uuid"]] = index
    return to_id, to_index


def cpu_nodes(topology: Dict[str, Any]) -> Dict[int, int]:
    """CPU -> its NUMA node."""
    nodes: Dict[int, int] = {}
    for node, info in (topology.get("numa_nodes") or {}).items():
        for cpu in info.get("cpus") or []:
            nodes[int(cpu)] = int(node)
    return nodes
