# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The processes on each GPU, from NVML's per-process lists (pynvml, from nvidia-ml-py, imported
only when asked for, as module_utils/topology/host.py does).

A host without pynvml or where NVML does not start has no GPU use to report: that is an answer
(`available` false, with the reason), not a failure. Process IDs are the host's (NVML reports them
in the PID namespace it runs in): the module must run in the host's PID namespace.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional

# NVML's return codes (nvmlReturn_t) where pynvml does not name them.
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NOT_FOUND = 6


class GpuProcess(object):
    """One process on a GPU: its host PID and the GPU memory it holds (None: NVML cannot say)."""

    def __init__(self, pid: int, used_memory: Optional[int]) -> None:
        self.pid = pid
        self.used_memory = used_memory


class GpuUse(object):
    """One GPU as NVML sees it: index and UUID (DCGM's `gpu` and `UUID` labels), its processes, and
    each process's latest SM utilisation in percent (None when the GPU gives no utilisation samples;
    {} when it does but had none recent, i.e. nothing ran)."""

    def __init__(self, index: int, uuid: str, processes: List[GpuProcess], utilization: Optional[Dict[int, int]]) -> None:
        self.index = index
        self.uuid = uuid
        self.processes = processes
        self.utilization = utilization


class GpuReading(object):
    """Every GPU NVML answered for, or why there are none (`reason`)."""

    def __init__(self, gpus: List[GpuUse], available: bool, reason: str = "") -> None:
        self.gpus = gpus
        self.available = available
        self.reason = reason

    @property
    def status(self) -> str:
        if self.available:
            return "read %d GPUs" % len(self.gpus) + ("" if not self.reason else " (%s)" % self.reason)
        return "unavailable: %s" % self.reason


def read_gpu_use(nvml: Any = None) -> GpuReading:
    """The processes on every GPU through `nvml` (the pynvml module or a stand-in; None: import pynvml)."""
    if nvml is None:
        try:
            import pynvml as nvml  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            return GpuReading([], False, "pynvml is not installed for %s (%s)" % (sys.executable, exc))
    error = getattr(nvml, "NVMLError", Exception)
    try:
        nvml.nvmlInit()
    except OSError as exc:
        return GpuReading([], False, "libnvidia-ml could not be loaded (%s)" % exc)
    except error as exc:
        return GpuReading([], False, "NVML could not start (%s)" % exc)
    gpus: List[GpuUse] = []
    skipped: List[str] = []
    try:
        for index in range(nvml.nvmlDeviceGetCount()):
            try:
                gpus.append(_read_device(nvml, error, index))
            except (error, AttributeError) as exc:
                skipped.append("GPU %d: %s" % (index, exc))
    except error as exc:
        return GpuReading([], False, "NVML could not count the GPUs (%s)" % exc)
    finally:
        try:
            nvml.nvmlShutdown()
        except error:
            pass
    return GpuReading(gpus, True, "; ".join(skipped) and "not read: " + "; ".join(skipped))


def _read_device(nvml: Any, error: Any, index: int) -> GpuUse:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    uuid = _text(nvml.nvmlDeviceGetUUID(handle))
    processes: Dict[int, GpuProcess] = {}
    for lister in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
        if not hasattr(nvml, lister):
            continue
        for info in getattr(nvml, lister)(handle) or []:
            pid = int(info.pid)
            memory = _memory(getattr(info, "usedGpuMemory", None))
            seen = processes.get(pid)
            if seen is None:
                processes[pid] = GpuProcess(pid, memory)
            elif memory is not None:  # a process in both lists holds its memory once
                seen.used_memory = max(seen.used_memory or 0, memory)
    return GpuUse(index, uuid, [processes[pid] for pid in sorted(processes)], _utilization(nvml, error, handle))


def _utilization(nvml: Any, error: Any, handle: Any) -> Optional[Dict[int, int]]:
    """{pid: SM utilisation in percent} of the latest sample of each process; None when NVML has none to give."""
    if not hasattr(nvml, "nvmlDeviceGetProcessUtilization"):
        return None
    try:
        samples = nvml.nvmlDeviceGetProcessUtilization(handle, 0) or []
    except error as exc:
        not_found = getattr(nvml, "NVML_ERROR_NOT_FOUND", NVML_ERROR_NOT_FOUND)
        return {} if getattr(exc, "value", None) == not_found else None
    latest: Dict[int, Any] = {}
    for sample in samples:
        pid = int(sample.pid)
        if pid not in latest or int(sample.timeStamp) > int(latest[pid].timeStamp):
            latest[pid] = sample
    return dict((pid, max(0, min(100, int(sample.smUtil)))) for pid, sample in latest.items())


def _memory(value: Any) -> Optional[int]:
    """usedGpuMemory in bytes; None when NVML cannot say (None, or NVML_VALUE_NOT_AVAILABLE as an unsigned -1)."""
    if value is None:
        return None
    value = int(value)
    return None if value < 0 or value >= (1 << 63) else value


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
