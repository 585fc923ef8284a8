# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read the topology of the host we run on: GPUs through NVML (pynvml, from nvidia-ml-py), else
through nvidia-smi (which the driver ships); NUMA nodes, CPU lists, distances, each GPU's NUMA
node and hyperthread siblings from sysfs.

A host with NVIDIA GPUs or a loaded NVIDIA driver that neither reader can read is an error that
names both causes, never a host with 0 GPUs. A host with no NVIDIA device and no driver has none.

The sysfs, /dev and /proc roots, the NVML module and the nvidia-smi runner are parameters so
tests can hand in trees and test doubles.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import (
    NvidiaSmiError, read_gpu_list, read_topo_matrix, run_checked)
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import (
    DEFAULT_LOCAL_DISTANCE, DEFAULT_REMOTE_DISTANCE, TopologyError, new_gpu, pair_key)
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import MigError, parse_smi_list, read_nvml_instances
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.text import parse_topo_matrix

# NVML's nvmlGpuTopologyLevel_t -> the label nvidia-smi prints.
_PCIE_LEVELS = {0: "PIX", 10: "PIX", 20: "PXB", 30: "PHB", 40: "NODE", 50: "SYS"}
_NODE_DIR = re.compile(r"^node(\d+)$")
_CPU_DIR = re.compile(r"^cpu(\d+)$")
_DEV_NODE = re.compile(r"^nvidia(\d+)$")
NVIDIA_PCI_VENDOR = "0x10de"
SOURCE_NVML = "nvml"
SOURCE_NVIDIA_SMI = "nvidia-smi"


class _Unreadable(Exception):
    """One GPU reader could not answer; the message says why."""


def read_host_topology(sysfs_root: str = "/sys", nvml: Any = None, require_gpus: bool = True, cpus_allowed: Optional[Iterable[int]] = None,
                       run: Any = None, dev_root: str = "/dev", proc_root: str = "/proc") -> Dict[str, Any]:
    """The topology dict of this host, with `source`: the GPU reader used ("nvml" or
    "nvidia-smi"), None when no GPU was read on a host without NVIDIA devices or driver.

    nvml: the pynvml module or a stand-in (None: import pynvml). run: run(args) -> (rc, stdout,
    stderr) of `nvidia-smi ARGS` (see nvidia_smi.nvidia_smi_runner), tried when pynvml is missing
    or NVML cannot start; None: nvidia-smi is not tried. cpus_allowed: the CPUs this process may
    use; None means os.sched_getaffinity(0) when reading the real /sys, and every online CPU for
    another root. CPU lists are restricted to them; `cpus_allowed` is returned.
    When neither reader answers: TopologyError naming both causes if the host shows NVIDIA GPUs
    or a loaded driver (nvidia_evidence) or require_gpus; else the CPU/NUMA part with gpus [].
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
    topo: Dict[str, Any] = {"gpus": [], "links": {}, "numa_nodes": numa_nodes, "siblings": siblings,
                            "cpus_allowed": sorted(allowed), "source": None}

    try:
        source, devices, links = _read_gpus(nvml, run)
    except _Unreadable as exc:
        evidence = nvidia_evidence(sysfs_root, dev_root, proc_root)
        if evidence:
            raise TopologyError("NVIDIA GPUs or their driver are on this host (%s), but neither NVML nor "
                                "nvidia-smi could read them: %s" % ("; ".join(evidence), exc))
        if require_gpus:
            raise TopologyError("no NVIDIA driver: no NVIDIA device or driver under %s, %s or %s, and no GPU "
                                "reader answered (%s)" % (dev_root, proc_root, sysfs_root, exc))
        return topo
    if not devices and require_gpus:
        raise TopologyError("the NVIDIA driver is loaded but %s reports no GPUs"
                            % ("NVML" if source == SOURCE_NVML else source))
    for dev in devices:
        numa_node, local = _gpu_numa(sysfs_root, dev["pci_bus_id"] or "", nodes, distances)
        cpus = sorted(set(local or (nodes.get(numa_node, []) if numa_node >= 0 else [])) & allowed)
        topo["gpus"].append(new_gpu(dev["index"], numa_node=numa_node, cpus=cpus, uuid=dev["uuid"],
                                    pci_bus_id=dev["pci_bus_id"], name=dev["name"],
                                    memory_mib=dev["memory_mib"], mig_mode=dev["mig_mode"],
                                    mig_instances=dev.get("mig_instances")))
    topo["links"] = links
    topo["source"] = source
    return topo


def _read_gpus(nvml: Any, run: Any) -> Tuple[str, List[Dict[str, Any]], Dict[str, str]]:
    """(source, devices, links) from NVML, else from nvidia-smi when pynvml is missing, too old,
    or NVML cannot start. _Unreadable names both causes when neither answers."""
    try:
        devices, links = _read_nvml(nvml)
        return SOURCE_NVML, devices, links
    except _Unreadable as exc:
        nvml_problem = "NVML: %s" % exc
    if run is None:
        raise _Unreadable("%s; nvidia-smi: not tried (no command runner given)" % nvml_problem)
    try:
        devices, links = _read_nvidia_smi(run)
    except _Unreadable as exc:
        raise _Unreadable("%s; nvidia-smi: %s" % (nvml_problem, exc))
    return SOURCE_NVIDIA_SMI, devices, links


def nvidia_evidence(sysfs_root: str = "/sys", dev_root: str = "/dev", proc_root: str = "/proc") -> List[str]:
    """What shows NVIDIA GPUs or a loaded NVIDIA driver on this host, one phrase each; [] on a
    host with neither: /dev/nvidia<N> device nodes, /proc/driver/nvidia/gpus entries, PCI display
    devices (class 0x03xxxx) of NVIDIA's vendor id, /proc/driver/nvidia/version, /sys/module/nvidia."""
    found: List[str] = []
    nodes = sorted((e for e in _listdir(dev_root) if _DEV_NODE.match(e)), key=lambda e: int(e[6:]))
    if nodes:
        found.append("device nodes %s" % _some([os.path.join(dev_root, e) for e in nodes]))
    proc_gpus = os.path.join(proc_root, "driver", "nvidia", "gpus")
    if _listdir(proc_gpus):
        found.append("%s lists %s" % (proc_gpus, _some(sorted(_listdir(proc_gpus)))))
    pci = nvidia_pci_gpus(sysfs_root)
    if pci:
        found.append("NVIDIA PCI display devices %s" % _some(pci))
    version = os.path.join(proc_root, "driver", "nvidia", "version")
    if os.path.exists(version):
        first = (_read(version) or "").strip().splitlines()
        found.append("the driver is loaded (%s%s)" % (version, ": " + first[0].strip() if first else ""))
    module = os.path.join(sysfs_root, "module", "nvidia")
    if os.path.isdir(module):
        found.append("the nvidia kernel module is loaded (%s)" % module)
    return found


def nvidia_pci_gpus(sysfs_root: str = "/sys") -> List[str]:
    """Bus ids of the PCI devices with NVIDIA's vendor id and a display class (VGA or 3D)."""
    base = os.path.join(sysfs_root, "bus", "pci", "devices")
    found: List[str] = []
    for bus in sorted(_listdir(base)):
        vendor = (_read(os.path.join(base, bus, "vendor")) or "").strip().lower()
        klass = (_read(os.path.join(base, bus, "class")) or "").strip().lower()
        if vendor == NVIDIA_PCI_VENDOR and klass.startswith("0x03"):
            found.append(bus)
    return found


def read_numa_nodes(sysfs_root: str = "/sys") -> Tuple[Dict[int, List[int]], Dict[int, Dict[str, int]]]:
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
    nodes: Dict[int, List[int]] = {}
    distances: Dict[int, Dict[str, int]] = {}
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


def read_siblings(sysfs_root: str = "/sys") -> List[List[int]]:
    """Hyperthread groups (thread_siblings_list of each CPU), each once, sorted."""
    base = os.path.join(sysfs_root, "devices", "system", "cpu")
    groups: Set[Tuple[int, ...]] = set()
    if not os.path.isdir(base):
        return []
    for entry in os.listdir(base):
        if not _CPU_DIR.match(entry):
            continue
        text = _read(os.path.join(base, entry, "topology", "thread_siblings_list"))
        if text:
            groups.add(tuple(_cpulist(text, "%s/topology/thread_siblings_list" % entry)))
    return sorted(list(g) for g in groups)


def sysfs_bus_id(nvml_bus_id: str) -> str:
    """NVML's "00000000:07:00.0" as sysfs names the device: "0000:07:00.0"."""
    text = nvml_bus_id.strip().lower()
    parts = text.split(":")
    if len(parts) == 3:
        return "%s:%s:%s" % (parts[0][-4:].rjust(4, "0"), parts[1], parts[2])
    if len(parts) == 2:
        return "0000:%s:%s" % (parts[0], parts[1])
    return text


def _gpu_numa(sysfs_root: str, bus_id: str, nodes: Dict[int, List[int]], distances: Dict[int, Dict[str, int]]) -> Tuple[int, List[int]]:
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


def _read_nvml(nvml: Any) -> Tuple[List[Dict[str, Any]], Dict[str, str]]:
    """(devices, links) through NVML; _Unreadable when pynvml is missing or too old, or NVML
    cannot start. A failure after NVML started is a TopologyError."""
    if nvml is None:
        try:
            import pynvml as nvml  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise _Unreadable("pynvml is not installed: install nvidia-ml-py for %s (Ubuntu 24.04, Debian 12: "
                              "python3-pynvml; see docs/bringup-nvidia.md) (%s)" % (sys.executable, exc))
    error = getattr(nvml, "NVMLError", Exception)
    try:
        nvml.nvmlInit()
    except error as exc:
        raise _Unreadable("could not start (%s)" % exc)
    except OSError as exc:
        raise _Unreadable("libnvidia-ml could not be loaded (%s)" % exc)
    try:
        handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
        devices = [_device(nvml, error, index, handle) for index, handle in enumerate(handles)]
        links = _links(nvml, error, handles, devices)
    except error as exc:
        raise TopologyError("NVML failed while reading GPUs: %s" % exc)
    except AttributeError as exc:
        # Ubuntu 22.04's python3-pynvml (7.352) predates the MIG and NVLink calls.
        raise _Unreadable("pynvml %s is too old for this reader (%s); install nvidia-ml-py 11 or newer"
                          % (getattr(nvml, "__file__", ""), exc))
    finally:
        try:
            nvml.nvmlShutdown()
        except error:
            pass
    return devices, links


def _read_nvidia_smi(run: Any) -> Tuple[List[Dict[str, Any]], Dict[str, str]]:
    """(devices, links) from `nvidia-smi --query-gpu` and the link matrix of `nvidia-smi topo -m`;
    _Unreadable with nvidia-smi's own words when it fails or the two disagree."""
    try:
        listed = read_gpu_list(run)
        if not listed:
            return [], {}
        matrix = parse_topo_matrix(read_topo_matrix(run))
    except NvidiaSmiError as exc:
        raise _Unreadable(_smi_problem(exc))
    except TopologyError as exc:
        raise _Unreadable("nvidia-smi topo -m could not be read: %s" % exc)
    indices = sorted(gpu["index"] for gpu in listed)
    in_matrix = sorted(gpu["index"] for gpu in matrix["gpus"])
    if indices != in_matrix:
        raise _Unreadable("nvidia-smi --query-gpu lists GPUs %s but nvidia-smi topo -m shows GPUs %s"
                          % (indices, in_matrix))
    modes = {True: "Enabled", False: "Disabled", None: None}
    instances: Dict[int, List[Dict[str, Any]]] = {}
    if any(gpu["mig_mode"] for gpu in listed):
        try:
            instances = parse_smi_list(run_checked(run, ["-L"]))
        except NvidiaSmiError as exc:
            raise _Unreadable(_smi_problem(exc))
        except MigError as exc:
            raise _Unreadable("nvidia-smi -L could not be read: %s" % exc)
    devices = [{
        "index": gpu["index"],
        "uuid": gpu["uuid"],
        "pci_bus_id": gpu["pci_bus_id"],
        "name": gpu["name"],
        "memory_mib": gpu["memory_total_mib"],
        "mig_mode": modes[gpu["mig_mode"]],
        "mig_instances": instances.get(gpu["index"], []) if gpu["mig_mode"] else None,
    } for gpu in listed]
    return devices, matrix["links"]


def _smi_problem(exc: NvidiaSmiError) -> str:
    """nvidia-smi's failure: what it means, then what it printed (first lines)."""
    said = [line.strip() for line in (exc.output or "").splitlines() if line.strip()][:2]
    text = " ".join(said)
    if len(text) > 300:
        text = text[:297] + "..."
    if not text or text in exc.message:
        return exc.message
    return "%s (nvidia-smi said: %s)" % (exc.message, text)


def _device(nvml: Any, error: Any, index: int, handle: Any) -> Dict[str, Any]:
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
        "mig_instances": read_nvml_instances(nvml, error, handle, _text) if mig_mode == "Enabled" else None,
    }


def _links(nvml: Any, error: Any, handles: List[Any], devices: List[Dict[str, Any]]) -> Dict[str, str]:
    """NVLink bonds (direct peers, or all GPUs on an NVSwitch fabric), else the PCIe path."""
    by_bus = dict((sysfs_bus_id(d["pci_bus_id"]), d["index"]) for d in devices)
    max_links = getattr(nvml, "NVML_NVLINK_MAX_LINKS", 18)
    enabled = getattr(nvml, "NVML_FEATURE_ENABLED", 1)
    switch_type = getattr(nvml, "NVML_NVLINK_DEVICE_TYPE_SWITCH", 2)
    gpu_type = getattr(nvml, "NVML_NVLINK_DEVICE_TYPE_GPU", 0)
    direct: Dict[Tuple[int, int], int] = {}
    to_switch: Dict[int, int] = {}
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


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _listdir(path: str) -> List[str]:
    try:
        return os.listdir(path)
    except (IOError, OSError):
        return []


def _some(items: List[str], shown: int = 4) -> str:
    """The first few items, and how many there are in all."""
    if len(items) <= shown:
        return ", ".join(items)
    return "%s ... (%d in all)" % (", ".join(items[:shown]), len(items))


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _cpulist(text: str, what: str) -> List[int]:
    try:
        return parse_cpuset(text)
    except ValueError as exc:
        raise TopologyError("%s: %s" % (what, exc))
