# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read the topology of the host we run on: GPUs through NVML (pynvml, from nvidia-ml-py),
NUMA nodes, CPU lists, distances and hyperthread siblings from sysfs.

The sysfs root and the NVML module are parameters so tests can hand in a tree and a test double.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import re
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.cpuset import parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology import (
    DEFAULT_LOCAL_DISTANCE, DEFAULT_REMOTE_DISTANCE, TopologyError, new_gpu, pair_key)

# NVML's nvmlGpuTopologyLevel_t -> the label nvidia-smi prints.
_PCIE_LEVELS = {0: "PIX", 10: "PIX", 20: "PXB", 30: "PHB", 40: "NODE", 50: "SYS"}
_NODE_DIR = re.compile(r"^node(\d+)$")
_CPU_DIR = re.compile(r"^cpu(\d+)$")


def read_host_topology(sysfs_root="/sys", nvml=None, require_gpus=True, cpus_allowed=None):
    # type: (str, Any, bool, Optional[Iterable[int]]) -> Dict[str, Any]
    """The topology dict of this host.

    nvml: the pynvml module or a stand-in (None: import pynvml). cpus_allowed: the CPUs this
    process may use; None means os.sched_getaffinity(0) when reading the real /sys, and every
    online CPU for another root. CPU lists are restricted to them; `cpus_allowed` is returned.
    Without an NVIDIA driver: TopologyError("no NVIDIA driver ...") if require_gpus, else the
    CPU/NUMA part with gpus [] and links {}.
    """
    nodes, distances = read_numa_nodes(sysfs_root)
    online = set()
    for cpus in nodes.values():
        online.update(cpus)
    if cpus_allowed is None:
        if os.path.realpath(sysfs_root) == "/sys" and hasattr(os, "sched_getaffinity"):
            allowed = set(os.sched_getaffinity(0)) & online
        else:
            allowed = set(online)
    else:
        allowed = set(int(c) for c in cpus_allowed) & online
    siblings = [g for g in read_siblings(sysfs_root) if len(g) > 1 and set(g) & allowed]
    numa_nodes = {}
    for node in sorted(nodes):
        numa_nodes[str(node)] = {
            "cpus": sorted(set(nodes[node]) & allowed),
            "distance": distances[node],
        }
    topo = {"gpus": [], "links": {}, "numa_nodes": numa_nodes, "siblings": siblings,
            "cpus_allowed": sorted(allowed)}  # type: Dict[str, Any]

    devices, links, problem = _read_nvml(nvml)
    if problem:
        if require_gpus:
            raise TopologyError(problem)
        return topo
    if not devices and require_gpus:
        raise TopologyError("the NVIDIA driver is loaded but NVML reports no GPUs")
    for dev in devices:
        numa_node, local = _gpu_numa(sysfs_root, dev["pci_bus_id"], nodes, distances)
        cpus = sorted(set(local or (nodes.get(numa_node, []) if numa_node >= 0 else [])) & allowed)
        topo["gpus"].append(new_gpu(dev["index"], numa_node=numa_node, cpus=cpus, uuid=dev["uuid"],
                                    pci_bus_id=dev["pci_bus_id"], name=dev["name"],
                                    memory_mib=dev["memory_mib"], mig_mode=dev["mig_mode"]))
    topo["links"] = links
    return topo


def read_numa_nodes(sysfs_root="/sys"):
    # type: (str) -> Tuple[Dict[int, List[int]], Dict[int, Dict[str, int]]]
    """NUMA nodes ({id: cpus}) and distances ({id: {"other": d}}) from sysfs.

    A kernel without NUMA (no node directories) counts as one node 0 holding every online CPU.
    """
    base = os.path.join(sysfs_root, "devices", "system", "node")
    ids = []
    if os.path.isdir(base):
        ids = sorted(int(m.group(1)) for m in (_NODE_DIR.match(e) for e in os.listdir(base)) if m)
    if not ids:
        online = _read(os.path.join(sysfs_root, "devices", "system", "cpu", "online"))
        if online is None:
            raise TopologyError("cannot read CPUs: %s has neither devices/system/node/node* nor "
                                "devices/system/cpu/online" % sysfs_root)
        return {0: _cpulist(online, "devices/system/cpu/online")}, {0: {"0": DEFAULT_LOCAL_DISTANCE}}
    nodes = {}  # type: Dict[int, List[int]]
    distances = {}  # type: Dict[int, Dict[str, int]]
    for node in ids:
        path = os.path.join(base, "node%d" % node)
        nodes[node] = _cpulist(_read(os.path.join(path, "cpulist")) or "", "node%d/cpulist" % node)
        raw = (_read(os.path.join(path, "distance")) or "").split()
        if len(raw) == len(ids) and all(v.isdigit() for v in raw):
            distances[node] = dict((str(other), int(v)) for other, v in zip(ids, raw))
        else:
            distances[node] = dict((str(other), DEFAULT_LOCAL_DISTANCE if other == node
                                    else DEFAULT_REMOTE_DISTANCE) for other in ids)
    return nodes, distances


def read_siblings(sysfs_root="/sys"):
    # type: (str) -> List[List[int]]
    """Hyperthread groups (thread_siblings_list of each CPU), each once, sorted."""
    base = os.path.join(sysfs_root, "devices", "system", "cpu")
    groups = set()  # type: Set[Tuple[int, ...]]
    if not os.path.isdir(base):
        return []
    for entry in os.listdir(base):
        if not _CPU_DIR.match(entry):
            continue
        text = _read(os.path.join(base, entry, "topology", "thread_siblings_list"))
        if text:
            groups.add(tuple(_cpulist(text, "%s/topology/thread_siblings_list" % entry)))
    return sorted(list(g) for g in groups)


def sysfs_bus_id(nvml_bus_id):
    # type: (str) -> str
    """NVML's "00000000:07:00.0" as sysfs names the device: "0000:07:00.0"."""
    text = nvml_bus_id.strip().lower()
    parts = text.split(":")
    if len(parts) == 3:
        return "%s:%s:%s" % (parts[0][-4:].rjust(4, "0"), parts[1], parts[2])
    if len(parts) == 2:
        return "0000:%s:%s" % (parts[0], parts[1])
    return text


def _gpu_numa(sysfs_root, bus_id, nodes, distances):
    # type: (str, str, Dict[int, List[int]], Dict[int, Dict[str, int]]) -> Tuple[int, List[int]]
    """A GPU's NUMA node and local CPUs from its PCI device. A memory-only node (Grace) or none
    (-1) gives way to the node holding the device's local CPUs, then the nearest node with CPUs."""
    dev = os.path.join(sysfs_root, "bus", "pci", "devices", sysfs_bus_id(bus_id))
    raw = (_read(os.path.join(dev, "numa_node")) or "-1").strip()
    node = int(raw) if raw.lstrip("-").isdigit() else -1
    local = _cpulist(_read(os.path.join(dev, "local_cpulist")) or "", "%s/local_cpulist" % bus_id)
    with_cpus = [n for n in sorted(nodes) if nodes[n]]
    if node in nodes and nodes[node]:
        return node, local
    # A local_cpulist naming every CPU says nothing about the node.
    if local and (len(with_cpus) == 1 or len(local) < sum(len(nodes[n]) for n in with_cpus)):
        wanted = set(local)
        best = max(with_cpus, key=lambda n: (len(wanted & set(nodes[n])), -n))
        if wanted & set(nodes[best]):
            return best, local
    if node in nodes and with_cpus:
        return min(with_cpus, key=lambda n: (distances[node].get(str(n), DEFAULT_REMOTE_DISTANCE), n)), local
    if len(with_cpus) == 1:
        return with_cpus[0], local
    return -1, local


def _read_nvml(nvml):
    # type: (Any) -> Tuple[List[Dict[str, Any]], Dict[str, str], Optional[str]]
    """(devices, links, problem): problem says why the driver could not be reached."""
    if nvml is None:
        try:
            import pynvml as nvml  # pylint: disable=import-outside-toplevel
        except ImportError:
            return [], {}, ("no NVIDIA driver access: the Python package nvidia-ml-py (pynvml) is not "
                            "installed on the host, so NVML cannot be asked for GPUs")
    error = getattr(nvml, "NVMLError", Exception)
    try:
        nvml.nvmlInit()
    except error as exc:
        return [], {}, "no NVIDIA driver: NVML could not start (%s); is the nvidia kernel module loaded?" % exc
    except OSError as exc:
        return [], {}, "no NVIDIA driver: libnvidia-ml could not be loaded (%s)" % exc
    try:
        handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
        devices = [_device(nvml, error, index, handle) for index, handle in enumerate(handles)]
        links = _links(nvml, error, handles, devices)
    except error as exc:
        raise TopologyError("NVML failed while reading GPUs: %s" % exc)
    finally:
        try:
            nvml.nvmlShutdown()
        except error:
            pass
    return devices, links, None


def _device(nvml, error, index, handle):
    # type: (Any, Any, int, Any) -> Dict[str, Any]
    mig_mode = None
    try:
        current = nvml.nvmlDeviceGetMigMode(handle)[0]
        mig_mode = "Enabled" if current == getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1) else "Disabled"
    except error:
        mig_mode = None  # the GPU has no MIG
    return {
        "index": index,
        "uuid": _text(nvml.nvmlDeviceGetUUID(handle)),
        "pci_bus_id": _text(nvml.nvmlDeviceGetPciInfo(handle).busId),
        "name": _text(nvml.nvmlDeviceGetName(handle)),
        "memory_mib": int(nvml.nvmlDeviceGetMemoryInfo(handle).total) // (1024 * 1024),
        "mig_mode": mig_mode,
    }


def _links(nvml, error, handles, devices):
    # type: (Any, Any, List[Any], List[Dict[str, Any]]) -> Dict[str, str]
    """NVLink bonds (direct peers, or all GPUs on an NVSwitch fabric), else the PCIe path."""
    by_bus = dict((sysfs_bus_id(d["pci_bus_id"]), d["index"]) for d in devices)
    max_links = getattr(nvml, "NVML_NVLINK_MAX_LINKS", 18)
    enabled = getattr(nvml, "NVML_FEATURE_ENABLED", 1)
    switch_type = getattr(nvml, "NVML_NVLINK_DEVICE_TYPE_SWITCH", 2)
    gpu_type = getattr(nvml, "NVML_NVLINK_DEVICE_TYPE_GPU", 0)
    direct = {}  # type: Dict[Tuple[int, int], int]
    to_switch = {}  # type: Dict[int, int]
    for index, handle in enumerate(handles):
        for link in range(max_links):
            try:
                if nvml.nvmlDeviceGetNvLinkState(handle, link) != enabled:
                    continue
            except error:
                continue  # no such link / NVLink not supported
            remote = getattr(nvml, "nvmlDeviceGetNvLinkRemotePciInfo_v2", None) or nvml.nvmlDeviceGetNvLinkRemotePciInfo
            peer = by_bus.get(sysfs_bus_id(_text(remote(handle, link).busId)))
            if peer is not None and peer != index:
                direct[(index, peer)] = direct.get((index, peer), 0) + 1
                continue
            kind = switch_type
            query = getattr(nvml, "nvmlDeviceGetNvLinkRemoteDeviceType", None)
            if query is not None:
                try:
                    kind = query(handle, link)
                except error:
                    kind = switch_type
            if kind == switch_type or (peer is None and kind == gpu_type):
                # The peer is the switch (or a GPU we cannot see): the GPU is on the fabric.
                to_switch[index] = to_switch.get(index, 0) + 1
    links = {}
    count = len(handles)
    for i in range(count):
        for j in range(i + 1, count):
            bonds = max(direct.get((i, j), 0), direct.get((j, i), 0))
            if i in to_switch and j in to_switch:
                bonds = max(bonds, min(to_switch[i], to_switch[j]))
            if bonds:
                links[pair_key(i, j)] = "NV%d" % bonds
                continue
            try:
                level = nvml.nvmlDeviceGetTopologyCommonAncestor(handles[i], handles[j])
            except error:
                level = 50
            links[pair_key(i, j)] = _PCIE_LEVELS.get(int(level), "SYS")
    return links


def _text(value):
    # type: (Any) -> str
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _read(path):
    # type: (str) -> Optional[str]
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _cpulist(text, what):
    # type: (str, str) -> List[int]
    try:
        return parse_cpuset(text)
    except ValueError as exc:
        raise TopologyError("%s: %s" % (what, exc))
