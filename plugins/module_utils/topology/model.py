# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The topology dict shared by gpu_info and gpu_placement, its link labels and its checks.

Shape (see DESIGN.md)::

    gpus: [{index, uuid, pci_bus_id, name, numa_node, cpus: [int], memory_mib, mig_mode,
            mig_instances: [{profile, gi, ci, uuid, memory_mib}]}]     (mig_instances: MIG mode on only;
                                                                      topology/mig.py)
    links: {"i,j": "NV12"|"PIX"|"PXB"|"PHB"|"NODE"|"SYS"}   (i < j; SOC is read as SYS)
    numa_nodes: {"<id>": {cpus: [int], distance: {"<id>": int}}}
    siblings: [[int, int], ...]                               (hyperthreads of one core)
    cpus_allowed: [int]                                       (optional: CPUs this process may use)
    warnings: [str]                                           (optional: doubts of the text reader)
    source: "nvml"|"nvidia-smi"|None                          (optional: the GPU reader of a host read)

Fields a source cannot know (a UUID in `nvidia-smi topo -m` text) are None. A GPU whose NUMA
node is unknown has numa_node -1.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import MigError, check_instances

LINK_SCORES = {"PIX": 50, "PXB": 40, "PHB": 30, "NODE": 20, "SYS": 10}
NVLINK_BASE = 100
_NV_RE = re.compile(r"^NV(\d+)$")
DEFAULT_LOCAL_DISTANCE = 10
DEFAULT_REMOTE_DISTANCE = 20


class TopologyError(ValueError):
    """A topology (text, host or dict) that cannot be read; the message names the problem."""


def normalize_link_label(label: str) -> str:
    """Return the label as nvidia-smi prints it today (legacy SOC becomes SYS).

    Raises TopologyError for anything that is not a GPU-to-GPU link label.
    """
    text = str(label).strip().upper()
    if text == "SOC":
        return "SYS"
    if text in LINK_SCORES:
        return text
    match = _NV_RE.match(text)
    if match and int(match.group(1)) > 0:
        return "NV%d" % int(match.group(1))
    raise TopologyError("unknown link label %r (expected NV#, PIX, PXB, PHB, NODE, SYS or SOC)" % (label,))


def link_score(label: str) -> int:
    """Score of a link: any NVLink bond > PIX > PXB > PHB > NODE > SYS; more NVLinks score higher."""
    norm = normalize_link_label(label)
    match = _NV_RE.match(norm)
    if match:
        return NVLINK_BASE + int(match.group(1))
    return LINK_SCORES[norm]


def pair_key(i: int, j: int) -> str:
    """The links key for GPUs i and j: "low,high"."""
    a, b = (i, j) if i < j else (j, i)
    return "%d,%d" % (a, b)


def new_gpu(index: int, numa_node: int = -1, cpus: Optional[List[int]] = None, uuid: Optional[str] = None,
            pci_bus_id: Optional[str] = None, name: Optional[str] = None,
            memory_mib: Optional[int] = None, mig_mode: Optional[str] = None,
            mig_instances: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """One GPU entry of the topology dict, with every contract key present (mig_instances only
    when MIG mode is on)."""
    gpu = {
        "index": int(index),
        "uuid": uuid,
        "pci_bus_id": pci_bus_id,
        "name": name,
        "numa_node": int(numa_node),
        "cpus": sorted(set(cpus or [])),
        "memory_mib": memory_mib,
        "mig_mode": mig_mode,
    }
    if mig_instances is not None:
        gpu["mig_instances"] = check_instances(int(index), mig_instances)
    return gpu


def default_distances(node_ids: List[int]) -> Dict[str, Dict[str, int]]:
    """Distances when the source gives none: 10 to itself, 20 (the kernel's remote default) to others."""
    return dict(
        (str(a), dict((str(b), DEFAULT_LOCAL_DISTANCE if a == b else DEFAULT_REMOTE_DISTANCE) for b in node_ids))
        for a in node_ids
    )


class CheckedTopology(dict):
    """A topology check_topology() returned: checked and normalised, so checking it again is free
    (a run checks its topology once, however many tenants it places)."""


def check_topology(topology: Any) -> Dict[str, Any]:
    """Check a topology dict (e.g. given to gpu_placement by a user) and return a normalised copy.

    Keys and ids become the contract's types; CPU lists are sorted. Raises TopologyError naming
    the first problem found. A CheckedTopology comes back as it is.
    """
    if isinstance(topology, CheckedTopology):
        return topology
    if not isinstance(topology, dict):
        raise TopologyError("topology must be a dict with gpus, links, numa_nodes and siblings, got %s"
                            % type(topology).__name__)
    for key in ("gpus", "numa_nodes"):
        if key not in topology:
            raise TopologyError("topology has no %r key" % key)
    numa_nodes: Dict[str, Dict[str, Any]] = {}
    raw_nodes = topology.get("numa_nodes") or {}
    if not isinstance(raw_nodes, dict):
        raise TopologyError("topology numa_nodes must be a dict keyed by node id")
    seen_cpus: Dict[int, int] = {}
    for node_key, node in raw_nodes.items():
        node_id = _as_int(node_key, "NUMA node id %r" % (node_key,))
        if not isinstance(node, dict):
            raise TopologyError("NUMA node %s must be a dict with cpus and distance" % node_key)
        cpus = _int_list(node.get("cpus") or [], "NUMA node %s cpus" % node_key)
        for cpu in cpus:
            if cpu in seen_cpus:
                raise TopologyError("CPU %d is listed on NUMA nodes %d and %d" % (cpu, seen_cpus[cpu], node_id))
            seen_cpus[cpu] = node_id
        distance = {}
        for other, value in (node.get("distance") or {}).items():
            distance[str(_as_int(other, "NUMA node %s distance key %r" % (node_key, other)))] = _as_int(
                value, "NUMA node %s distance to %s" % (node_key, other))
        numa_nodes[str(node_id)] = {"cpus": cpus, "distance": distance}
    gpus = []
    raw_gpus = topology.get("gpus") or []
    if not isinstance(raw_gpus, list):
        raise TopologyError("topology gpus must be a list")
    indices = set()
    mig_seen: Dict[str, int] = {}
    for gpu in raw_gpus:
        if not isinstance(gpu, dict) or "index" not in gpu:
            raise TopologyError("each GPU in topology gpus needs an index, got %r" % (gpu,))
        index = _as_int(gpu["index"], "GPU index %r" % (gpu.get("index"),))
        if index < 0 or index in indices:
            raise TopologyError("GPU index %d is negative or repeated" % index)
        indices.add(index)
        numa_node = gpu.get("numa_node")
        numa_node = -1 if numa_node is None else _as_int(numa_node, "GPU %d numa_node" % index)
        if numa_node >= 0 and str(numa_node) not in numa_nodes:
            raise TopologyError("GPU %d is on NUMA node %d, which numa_nodes does not list" % (index, numa_node))
        entry = dict(gpu)
        entry["index"] = index
        entry["numa_node"] = numa_node
        entry["cpus"] = _int_list(gpu.get("cpus") or [], "GPU %d cpus" % index)
        if gpu.get("mig_instances") is not None:
            try:
                entry["mig_instances"] = check_instances(index, gpu["mig_instances"])
            except MigError as exc:
                raise TopologyError(str(exc))
            for inst in entry["mig_instances"]:
                if inst["uuid"] in mig_seen:
                    raise TopologyError("MIG instance %s is listed on GPUs %d and %d" % (inst["uuid"], mig_seen[inst["uuid"]], index))
                mig_seen[inst["uuid"]] = index
        gpus.append(entry)
    gpus.sort(key=lambda g: g["index"])
    links = {}
    raw_links = topology.get("links") or {}
    if not isinstance(raw_links, dict):
        raise TopologyError("topology links must be a dict keyed \"i,j\"")
    for key, label in raw_links.items():
        parts = str(key).split(",")
        if len(parts) != 2:
            raise TopologyError("link key %r is not \"i,j\"" % (key,))
        i = _as_int(parts[0], "link key %r" % (key,))
        j = _as_int(parts[1], "link key %r" % (key,))
        if i == j or i not in indices or j not in indices:
            raise TopologyError("link %r names a GPU not in gpus or the same GPU twice" % (key,))
        links[pair_key(i, j)] = normalize_link_label(label)
    siblings = []
    for group in topology.get("siblings") or []:
        ids = _int_list(group, "siblings entry %r" % (group,))
        if len(ids) > 1:
            siblings.append(ids)
    result = {"gpus": gpus, "links": links, "numa_nodes": numa_nodes, "siblings": siblings}
    if topology.get("cpus_allowed") is not None:
        result["cpus_allowed"] = _int_list(topology["cpus_allowed"], "cpus_allowed")
    if topology.get("warnings") is not None:
        result["warnings"] = _str_list(topology["warnings"], "topology warnings")
    if "source" in topology:
        if topology["source"] is not None and not isinstance(topology["source"], str):
            raise TopologyError("topology source must be a string, got %r" % (topology["source"],))
        result["source"] = topology["source"]
    return CheckedTopology(result)


def _as_int(value: Any, what: str) -> int:
    if type(value) is int:  # pylint: disable=unidiomatic-typecheck
        return value
    if isinstance(value, bool):
        raise TopologyError("%s must be an integer, got %r" % (what, value))
    try:
        return int(str(value).strip())
    except ValueError:
        raise TopologyError("%s must be an integer, got %r" % (what, value))


def _str_list(values: Any, what: str) -> List[str]:
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise TopologyError("%s must be a list of strings, got %r" % (what, values))
    return list(values)


def _int_list(values: Any, what: str) -> List[int]:
    if isinstance(values, str):
        try:
            return parse_cpuset(values)
        except ValueError as exc:
            raise TopologyError("%s: %s" % (what, exc))
    if not isinstance(values, (list, tuple)):
        raise TopologyError("%s must be a list of integers, got %r" % (what, values))
    if all(type(v) is int for v in values):  # pylint: disable=unidiomatic-typecheck
        return sorted(set(values))  # the common case, kept fast: placement checks every call
    return sorted(set(_as_int(v, what) for v in values))
