# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""MIG instances in the topology contract: one GPU's `mig_instances` list, its check, and the two
readers (NVML's MIG device handles; `nvidia-smi -L` text).

Shape of one instance (DESIGN.md)::

    {profile: "1g.10gb", gi: int|None, ci: int|None, uuid: "MIG-...", memory_mib: int|None}

`nvidia-smi -L` names each MIG device's profile and UUID but not its GPU-instance and
compute-instance IDs nor its memory: those are None from that reader. A GPU carries the key only
when its MIG mode is on (an empty list: MIG on, no instance created yet).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Tuple

# "1g.10gb", "3g.40gb", "1g.10gb+me", "1g.20gb", "7g.80gb"; compute-instance profiles ("1c.3g.40gb") too.
PROFILE_RE = re.compile(r"^(?:[1-8]c\.)?[1-8]g\.[0-9]{1,4}gb(?:[+-][a-z][a-z.]*)*$")
MAX_INSTANCES = 56  # 8 GPUs x 7 instances: the most one host can offer (and so a tenant can ask for)
# MIG UUIDs: "MIG-<uuid>" (R470 and newer), "MIG-GPU-<uuid>/<gi>/<ci>" (R450/R460).
MIG_UUID_RE = re.compile(r"^MIG-(?:[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
                         r"|GPU-[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}/[0-9]+/[0-9]+)$")
_GPU_LINE = re.compile(r"^GPU\s+(\d+):.*\(UUID:\s*(GPU-[0-9a-fA-F-]+)\)\s*$")
_MIG_LINE = re.compile(r"^\s+MIG\s+(\S+)\s+Device\s+(\d+):\s*\(UUID:\s*(MIG-[^)\s]+)\)\s*$")
_NAME_PROFILE = re.compile(r"\bMIG\s+(\S+)\s*$")


class MigError(ValueError):
    """A MIG instance list that does not fit the contract; the message names the GPU and field."""


def is_mig_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(MIG_UUID_RE.match(value))


def new_instance(profile: str, uuid: str, gi: Optional[int] = None, ci: Optional[int] = None,
                 memory_mib: Optional[int] = None) -> Dict[str, Any]:
    return {"profile": profile, "gi": gi, "ci": ci, "uuid": uuid, "memory_mib": memory_mib}


def check_instances(gpu_index: int, raw: Any) -> List[Dict[str, Any]]:
    """A GPU's mig_instances, checked and in the contract's order (by gi, ci, uuid)."""
    if not isinstance(raw, list):
        raise MigError("GPU %d mig_instances must be a list, got %s" % (gpu_index, type(raw).__name__))
    out = []
    seen = set()
    for item in raw:
        if not isinstance(item, dict):
            raise MigError("GPU %d mig_instances entries must be dicts, got %r" % (gpu_index, item))
        profile = item.get("profile")
        uuid = item.get("uuid")
        if not isinstance(profile, str) or not PROFILE_RE.match(profile):
            raise MigError("GPU %d has a MIG instance with profile %r (expected e.g. 1g.10gb)" % (gpu_index, profile))
        if not is_mig_uuid(uuid):
            raise MigError("GPU %d has a MIG instance with uuid %r (expected MIG-<uuid>)" % (gpu_index, uuid))
        if uuid in seen:
            raise MigError("GPU %d lists MIG instance %s twice" % (gpu_index, uuid))
        seen.add(uuid)
        entry = new_instance(profile, uuid)
        for key in ("gi", "ci", "memory_mib"):
            value = item.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise MigError("GPU %d MIG instance %s %s must be a non-negative integer or null, got %r"
                               % (gpu_index, uuid, key, value))
            entry[key] = value
        out.append(entry)
    return sorted(out, key=instance_order)


def instance_order(inst: Dict[str, Any]) -> Any:
    """Known IDs first in (gi, ci) order, then by UUID: the same list reads the same every time."""
    gi, ci = inst.get("gi"), inst.get("ci")
    return (gi is None, gi if gi is not None else 0, ci if ci is not None else 0, inst["uuid"])


def parse_smi_list(text: str) -> Dict[int, List[Dict[str, Any]]]:
    """`nvidia-smi -L`: GPU index -> its MIG instances (profile, uuid). GPUs without MIG lines
    are absent. Raises MigError on a MIG line before any GPU line."""
    found: Dict[int, List[Dict[str, Any]]] = {}
    current: Optional[int] = None
    for line in (text or "").splitlines():
        gpu = _GPU_LINE.match(line.strip())
        if gpu:
            current = int(gpu.group(1))
            continue
        mig = _MIG_LINE.match(line)
        if mig:
            if current is None:
                raise MigError("nvidia-smi -L printed a MIG device before any GPU: %r" % line.strip())
            found.setdefault(current, []).append(new_instance(mig.group(1), mig.group(3)))
    return dict((index, check_instances(index, items)) for index, items in found.items())


def read_nvml_instances(nvml: Any, error: Any, handle: Any, text: Callable[[Any], str]) -> List[Dict[str, Any]]:
    """The MIG devices of one GPU whose MIG mode is on, through NVML's MIG device handles."""
    out = []
    for slot in range(int(nvml.nvmlDeviceGetMaxMigDeviceCount(handle))):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
        except error:
            continue  # an empty slot answers NOT_FOUND
        name = text(nvml.nvmlDeviceGetName(mig))
        match = _NAME_PROFILE.search(name)
        profile = match.group(1) if match else name
        out.append(new_instance(
            profile, text(nvml.nvmlDeviceGetUUID(mig)),
            gi=int(nvml.nvmlDeviceGetGpuInstanceId(mig)), ci=int(nvml.nvmlDeviceGetComputeInstanceId(mig)),
            memory_mib=int(nvml.nvmlDeviceGetMemoryInfo(mig).total) // (1024 * 1024)))
    return out


def instance_index(topology: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """MIG UUID -> {gpu: parent index, profile, ...} over a topology's GPUs."""
    out: Dict[str, Dict[str, Any]] = {}
    for gpu in topology.get("gpus") or []:
        for inst in gpu.get("mig_instances") or []:
            out[inst["uuid"]] = dict(inst, gpu=int(gpu["index"]))
    return out


def mig_gpus(topology: Dict[str, Any]) -> List[int]:
    """GPUs that cannot be handed out whole: MIG mode on, or instances listed."""
    return sorted(int(g["index"]) for g in topology.get("gpus") or []
                  if g.get("mig_mode") == "Enabled" or g.get("mig_instances"))


def instance_slots(topology: Dict[str, Any]) -> Dict[str, str]:
    """MIG UUID -> its slot, "<GPU UUID or index>/<profile>/<n>": the n-th instance of that profile on
    that GPU in the contract's order. Instances of one profile on one GPU are alike (memory, compute),
    and the layout fixes how many there are, so the same layout created again (after a reboot, with
    new UUIDs) has the same slots: a tenant's slots name what it holds across re-creation."""
    out: Dict[str, str] = {}
    for gpu in topology.get("gpus") or []:
        parent = gpu.get("uuid") or str(gpu["index"])
        seen: Dict[str, int] = {}
        for inst in sorted(gpu.get("mig_instances") or [], key=instance_order):
            n = seen.get(inst["profile"], 0)
            seen[inst["profile"]] = n + 1
            out[inst["uuid"]] = "%s/%s/%d" % (parent, inst["profile"], n)
    return out


def parse_slot(slot: str) -> Optional[Tuple[str, str, int]]:
    """(GPU UUID or index, profile, rank) of a slot as instance_slots writes it; None for anything else."""
    parts = slot.rsplit("/", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


def slot_instances(topology: Dict[str, Any]) -> Dict[str, str]:
    """Slot -> the MIG UUID in it now (instance_slots turned round)."""
    return dict((slot, uuid) for uuid, slot in instance_slots(topology).items())
