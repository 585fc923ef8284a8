# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Slurm's view of a host shared with tenants: the node's gres.conf and its NodeName line, from the
allocation map (gpulab.dgx.allocation_info), leaving out every GPU, MIG instance and CPU a tenant holds.

Slurm numbers cores and CPUs its own way ("abstract" IDs): cores in hwloc's logical order, then the
hardware threads of each core. Here a core is a hyperthread sibling group of the map, cores are
ordered by their lowest CPU ID (the kernel's order on the hosts this collection targets: first
threads of every core, socket by socket, then their siblings), and a core's CPUs take the IDs
core * threads_per_core + their rank within the core. `slurmd -G` on the host checks the result
against hwloc (the role runs it when slurmd is installed).

- gres.conf: one line per free GPU (`Name=gpu Type=<type> File=<dev>/nvidiaN Cores=<free local cores>`)
  and one per free MIG instance (`MultipleFiles=<dev>/nvidiaN,<caps>/nvidia-capG,<caps>/nvidia-capC`,
  the GPU instance's and compute instance's access minors from /proc/driver/nvidia-caps/mig-minors).
- NodeName line: the whole CPU layout (Slurm drains a node that reports less than configured),
  `CpuSpecList=` the abstract IDs of the tenants' CPUs (Slurm's jobs never run there), `RealMemory=`
  the host's memory less the tenants' limits and a reserve, `Gres=gpu:<type>:<count>` per type offered.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.shape import ReportShapeError, check_report

HEADER = "# Written by gpulab.dgx (role slurm_gres): the GPUs and cores no tenant holds. Changes here are overwritten."
_TYPE_DROP = re.compile(r"^nvidia[ _-]+", re.IGNORECASE)
_TYPE_BAD = re.compile(r"[^a-z0-9._-]+")
_NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MINOR_LINE = re.compile(r"^gpu(\d+)/gi(\d+)(?:/ci(\d+))?/access\s+(\d+)$")
MIB = 1024 * 1024


class SlurmConfigError(ValueError):
    """Input the Slurm configuration cannot be made from; the message names the option and the value."""


def gpu_type(name: Optional[str], type_names: Dict[str, str]) -> str:
    """Slurm's Type for a GPU model: the admin's mapping when it names the model, else the model's name
    lowercased without its "NVIDIA " prefix, other characters than a-z 0-9 . _ - becoming "_"
    ("NVIDIA A100-SXM4-80GB" -> "a100-sxm4-80gb")."""
    name = str(name or "gpu")
    if name in type_names:
        return type_names[name]
    text = _TYPE_BAD.sub("_", _TYPE_DROP.sub("", name.strip()).lower()).strip("_")
    return text or "gpu"


def parse_mig_minors(text: str) -> Dict[Tuple[int, int, Optional[int]], int]:
    """/proc/driver/nvidia-caps/mig-minors: {(gpu, gi, ci or None): minor}; other lines (config, monitor) ignored."""
    minors: Dict[Tuple[int, int, Optional[int]], int] = {}
    for line in (text or "").splitlines():
        match = _MINOR_LINE.match(line.strip())
        if match:
            gpu, gi, ci, minor = match.groups()
            minors[(int(gpu), int(gi), None if ci is None else int(ci))] = int(minor)
    return minors


class CoreMap(object):
    """Slurm's abstract core and CPU IDs of the map's CPUs (see the module docstring)."""

    def __init__(self, numa_nodes: List[Dict[str, Any]]) -> None:
        cores = [sorted(int(c) for c in core) for node in numa_nodes for core in node.get("cores") or []]
        cores.sort(key=lambda core: core[0])
        self.threads = max([len(core) for core in cores] or [1])
        self.core_of: Dict[int, int] = {}
        self.abstract_cpu: Dict[int, int] = {}
        for index, core in enumerate(cores):
            for rank, cpu in enumerate(core):
                self.core_of[cpu] = index
                self.abstract_cpu[cpu] = index * self.threads + rank
        self.cores = len(cores)

    def cores_of(self, cpus: List[int]) -> List[int]:
        return sorted(set(self.core_of[c] for c in cpus if c in self.core_of))


def slurm_config(allocation: Any, node_name: str, sockets: int, memory_mb: int, reserved_memory_mb: int = 0,
                 dev_dir: str = "/dev", caps_dir: str = "/dev/nvidia-caps", type_names: Optional[Dict[str, str]] = None,
                 mig_minors: str = "") -> Dict[str, Any]:
    """gres.conf text, the NodeName line and what they offer, for the host `allocation` maps."""
    try:
        report = check_report(allocation)
    except ReportShapeError as exc:
        raise SlurmConfigError(str(exc))
    names = _check_options(node_name, sockets, memory_mb, reserved_memory_mb, dev_dir, caps_dir, type_names)
    core_map = CoreMap(report["numa_nodes"])
    if core_map.cores == 0:
        raise SlurmConfigError("the allocation map lists no CPU cores: no NodeName line can be written")
    if core_map.cores % sockets:
        raise SlurmConfigError("sockets: %d does not divide the host's %d cores" % (sockets, core_map.cores))
    held_cpus = sorted(set(c for t in report["tenants"] for c in t.get("cpus") or []))
    held_cores = set(core_map.cores_of(held_cpus))
    node_cpus = dict((int(n["id"]), [int(c) for c in n["cpus"]]) for n in report["numa_nodes"])
    minors = parse_mig_minors(mig_minors)

    lines: List[str] = []
    offered: List[Dict[str, Any]] = []
    held_gpus: List[int] = []
    warnings: List[str] = []
    for gpu in sorted(report["gpus"], key=lambda g: int(g["index"])):
        index = int(gpu["index"])
        local = node_cpus.get(gpu["numa_node"], []) if gpu.get("numa_node") is not None else []
        cores = [c for c in core_map.cores_of(local) if c not in held_cores]
        cores_text = (" Cores=" + format_cpuset(cores)) if cores else ""
        if local and not cores:
            warnings.append("GPU %d: every core of its NUMA node is held by tenants; its line has no Cores=" % index)
        base = gpu_type(gpu.get("name"), names)
        if gpu.get("mig_mode") == "Enabled":
            for inst in gpu.get("mig_instances") or []:
                if inst.get("tenant"):
                    continue
                files = _mig_files(index, inst, minors, dev_dir, caps_dir)
                kind = "%s_%s" % (base, inst["profile"])
                lines.append("Name=gpu Type=%s MultipleFiles=%s%s" % (kind, files, cores_text))
                offered.append({"gpu": index, "type": kind, "mig_uuid": inst.get("uuid"), "cores": cores})
            continue
        if gpu.get("tenants"):
            held_gpus.append(index)
            continue
        lines.append("Name=gpu Type=%s File=%s/nvidia%d%s" % (base, dev_dir, index, cores_text))
        offered.append({"gpu": index, "type": base, "mig_uuid": None, "cores": cores})

    counts: Dict[str, int] = {}
    for entry in offered:
        counts[entry["type"]] = counts.get(entry["type"], 0) + 1
    tenant_memory_mb = sum(int(t.get("memory_limit_bytes") or 0) for t in report["tenants"]) // MIB
    real_memory = memory_mb - tenant_memory_mb - reserved_memory_mb
    if real_memory < 1:
        raise SlurmConfigError("no memory is left for Slurm: memory_mb %d less the tenants' %d MiB and reserved_memory_mb %d"
                               % (memory_mb, tenant_memory_mb, reserved_memory_mb))
    spec = [core_map.abstract_cpu[c] for c in held_cpus if c in core_map.abstract_cpu]
    node_line = "NodeName=%s CPUs=%d Boards=1 SocketsPerBoard=%d CoresPerSocket=%d ThreadsPerCore=%d RealMemory=%d" % (
        node_name, core_map.cores * core_map.threads, sockets, core_map.cores // sockets, core_map.threads, real_memory)
    if counts:
        node_line += " Gres=" + ",".join("gpu:%s:%d" % (kind, counts[kind]) for kind in sorted(counts))
    if spec:
        node_line += " CpuSpecList=" + format_cpuset(spec)
    gres_conf = "\n".join([HEADER] + lines) + "\n"
    return {"gres_conf": gres_conf, "node_line": node_line, "gres": offered, "cpu_spec_list": format_cpuset(spec),
            "held_gpus": held_gpus,
            "real_memory_mb": real_memory, "warnings": warnings}


def _mig_files(index: int, inst: Dict[str, Any], minors: Dict[Tuple[int, int, Optional[int]], int],
               dev_dir: str, caps_dir: str) -> str:
    gi, ci = inst.get("gi"), inst.get("ci")
    if gi is None or ci is None:
        raise SlurmConfigError("GPU %d MIG instance %s: its GPU and compute instance IDs are unknown (the host was read "
                               "through nvidia-smi -L; install nvidia-ml-py so NVML reads them)" % (index, inst.get("uuid")))
    keys = [(index, int(gi), None), (index, int(gi), int(ci))]
    missing = [k for k in keys if k not in minors]
    if missing:
        raise SlurmConfigError("mig_minors: no access minor for %s (read /proc/driver/nvidia-caps/mig-minors on the host)"
                               % ", ".join("gpu%d/gi%d%s/access" % (k[0], k[1], "" if k[2] is None else "/ci%d" % k[2]) for k in missing))
    return "%s/nvidia%d,%s/nvidia-cap%d,%s/nvidia-cap%d" % (dev_dir, index, caps_dir, minors[keys[0]], caps_dir, minors[keys[1]])


def _check_options(node_name: Any, sockets: Any, memory_mb: Any, reserved: Any, dev_dir: Any, caps_dir: Any,
                   type_names: Any) -> Dict[str, str]:
    if not isinstance(node_name, str) or not _NODE_NAME.match(node_name):
        raise SlurmConfigError("node_name must be a host name (letters, digits, '.', '_', '-'), got %r" % (node_name,))
    for what, value, low in (("sockets", sockets, 1), ("memory_mb", memory_mb, 1), ("reserved_memory_mb", reserved, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise SlurmConfigError("%s must be an integer of at least %d, got %r" % (what, low, value))
    for what, value in (("dev_dir", dev_dir), ("caps_dir", caps_dir)):
        if not isinstance(value, str) or not value.startswith("/") or re.search(r"[\s,=#]", value):
            raise SlurmConfigError("%s must be an absolute path without spaces, ',', '=' or '#', got %r" % (what, value))
    names = type_names or {}
    if not isinstance(names, dict):
        raise SlurmConfigError("type_names must map GPU model names to Slurm types, got %r" % (names,))
    for model, kind in names.items():
        if not isinstance(kind, str) or not re.match(r"^[A-Za-z0-9._-]+$", kind):
            raise SlurmConfigError("type_names[%r] must be a Slurm type (letters, digits, '.', '_', '-'), got %r" % (model, kind))
    return dict((str(k), v) for k, v in names.items())
