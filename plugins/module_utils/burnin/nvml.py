# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the burn-in reads from each GPU through NVML (pynvml, from nvidia-ml-py): who it is, its
temperature limits, persistence mode and error counters before and after, and a sample every few
seconds during the run (temperature, power, clocks, clock event reasons).

Calls a driver or GPU does not support answer None rather than failing the run: a burn-in on an older
GPU still runs, and the report says what could not be read.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import read_nvml_instances

# nvmlTemperatureThresholds_t and nvmlMemoryErrorType_t / nvmlEccCounterType_t values.
THRESHOLD_SHUTDOWN = 0
THRESHOLD_SLOWDOWN = 1
THRESHOLD_GPU_MAX = 3
TEMPERATURE_GPU = 0
MEMORY_ERROR_CORRECTED = 0
MEMORY_ERROR_UNCORRECTED = 1
VOLATILE_ECC = 0
AGGREGATE_ECC = 1
PAGE_RETIREMENT_PENDING_TRUE = 1


class NvmlUnavailable(Exception):
    """NVML could not be loaded or started: the burn-in cannot watch the GPUs and refuses to run."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Nvml(object):
    """One NVML session over `module` (pynvml or a stand-in)."""

    def __init__(self, module: Any) -> None:
        self.nvml = module
        self.error = getattr(module, "NVMLError", Exception)
        try:
            module.nvmlInit()
        except OSError as exc:
            raise NvmlUnavailable("libnvidia-ml could not be loaded (%s)" % exc)
        except self.error as exc:
            raise NvmlUnavailable("NVML could not start (%s)" % exc)

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except self.error:
            pass

    def _try(self, name: str, *args: Any) -> Any:
        call = getattr(self.nvml, name, None)
        if call is None:
            return None
        try:
            return call(*args)
        except self.error:
            return None

    def count(self) -> int:
        return int(self.nvml.nvmlDeviceGetCount())

    def driver_version(self) -> Optional[str]:
        value = self._try("nvmlSystemGetDriverVersion")
        return None if value is None else _text(value)

    def handle(self, index: int) -> Any:
        return self.nvml.nvmlDeviceGetHandleByIndex(index)

    def identity(self, index: int) -> Dict[str, Any]:
        handle = self.handle(index)
        pci = self._try("nvmlDeviceGetPciInfo", handle)
        bus = _text(getattr(pci, "busId", "") or "") if pci is not None else ""
        persistence = self._try("nvmlDeviceGetPersistenceMode", handle)
        mig = self._try("nvmlDeviceGetMigMode", handle) if hasattr(self.nvml, "nvmlDeviceGetMigMode") else None
        mig_mode = bool(mig[0]) if mig else False
        return {"index": index, "uuid": _text(self.nvml.nvmlDeviceGetUUID(handle)),
                "name": _text(self._try("nvmlDeviceGetName", handle) or ""), "pci_bus_id": bus.upper(),
                "persistence_mode": None if persistence is None else bool(persistence),
                "mig_mode": mig_mode, "mig_uuids": self._mig_uuids(handle) if mig_mode else []}

    def _mig_uuids(self, handle: Any) -> List[str]:
        """The MIG devices of a GPU in MIG mode (their UUIDs name them in the tenant ledger); [] when unreadable."""
        try:
            return [i["uuid"] for i in read_nvml_instances(self.nvml, self.error, handle, _text)]
        except (self.error, AttributeError):
            return []

    def limits(self, index: int) -> Optional[Dict[str, Any]]:
        """Absolute limits from NVML's thresholds; None when it gives none (nvidia-smi's text is read then)."""
        handle = self.handle(index)
        found = dict((name, self._try("nvmlDeviceGetTemperatureThreshold", handle, which))
                     for name, which in (("max_operating", THRESHOLD_GPU_MAX), ("slowdown", THRESHOLD_SLOWDOWN),
                                         ("shutdown", THRESHOLD_SHUTDOWN)))
        if all(v is None for v in found.values()):
            return None
        return dict(((k, None if v is None else int(v)) for k, v in found.items()), source="nvml")

    def counters(self, index: int) -> Dict[str, int]:
        """ECC totals and retired/remapped rows that must not grow during a burn-in (those the GPU reports)."""
        handle = self.handle(index)
        found: Dict[str, Optional[int]] = {
            "volatile_corrected": self._try("nvmlDeviceGetTotalEccErrors", handle, MEMORY_ERROR_CORRECTED, VOLATILE_ECC),
            "volatile_uncorrected": self._try("nvmlDeviceGetTotalEccErrors", handle, MEMORY_ERROR_UNCORRECTED, VOLATILE_ECC),
        }
        pending = self._try("nvmlDeviceGetRetiredPagesPendingStatus", handle)
        if pending is not None:
            found["retired_pages_pending"] = int(pending == PAGE_RETIREMENT_PENDING_TRUE)
        remapped = self._try("nvmlDeviceGetRemappedRows", handle)
        if remapped is not None:  # (correctable rows, uncorrectable rows, pending, failure)
            found["remapped_rows_uncorrectable"] = int(remapped[1])
            found["remapped_rows_pending"] = int(bool(remapped[2]))
            found["remapped_rows_failure"] = int(bool(remapped[3]))
        return dict((k, int(v)) for k, v in found.items() if v is not None)

    def sample(self, index: int) -> Dict[str, Optional[int]]:
        """Temperature (C), power (mW), SM and memory clocks (MHz) and the clock event mask now."""
        handle = self.handle(index)
        reasons = self._try("nvmlDeviceGetCurrentClocksEventReasons", handle)
        if reasons is None:
            reasons = self._try("nvmlDeviceGetCurrentClocksThrottleReasons", handle)
        return {"temp": self._try("nvmlDeviceGetTemperature", handle, TEMPERATURE_GPU),
                "power_mw": self._try("nvmlDeviceGetPowerUsage", handle),
                "sm_mhz": self._try("nvmlDeviceGetClockInfo", handle, 1),
                "mem_mhz": self._try("nvmlDeviceGetClockInfo", handle, 2),
                "reasons": reasons}


def summarize(samples: List[Dict[str, Optional[int]]], failing: Any, names: Any) -> Dict[str, Any]:
    """Max temperature and power, clock range and clock event counts of one GPU's samples."""
    temps = [s["temp"] for s in samples if s.get("temp") is not None]
    power = [s["power_mw"] for s in samples if s.get("power_mw") is not None]
    clocks = [s["sm_mhz"] for s in samples if s.get("sm_mhz") is not None]
    events: Dict[str, int] = {}
    bad: Dict[str, int] = {}
    for sample in samples:
        mask = int(sample.get("reasons") or 0)
        for name in names(mask):
            events[name] = events.get(name, 0) + 1
        for name in failing(mask):
            bad[name] = bad.get(name, 0) + 1
    return {"samples": len(samples), "max_temp": max(temps) if temps else None,
            "max_power_w": round(max(power) / 1000.0, 1) if power else None,
            "sm_clock_mhz": [min(clocks), max(clocks)] if clocks else None,
            "clock_events": events, "throttle_failing": bad}
