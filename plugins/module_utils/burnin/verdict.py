# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The burn-in's verdict, per GPU and for the host, from what the run saw.

A GPU fails on: any reason gpu-burn's output gives (compare errors, FAULTY, a dead worker, a run that
failed or hung); a temperature above its model's max operating temperature less a margin (or above an
absolute cap, when one is set); a failing clock event (thermal slowdown, hardware slowdown, power brake);
pages pending retirement, rows pending remap or a failed remap before the run; more ECC errors or
retired/remapped rows after the run than before; an XID error in the kernel log
during the run; a DCGM failure, or a DCGM level that hung or gave nothing; throughput below the median
of the host's GPUs of the same model by more than a tolerance. The host fails when any GPU fails or
fewer GPUs are seen than expected. A skipped or not-run DCGM test is a warning, never a pass.
"""

from __future__ import annotations

import statistics
from typing import Any, Dict, List, Optional


# Counters that fail a GPU when set before the run already: memory the driver has yet to retire or remap, or
# a remap that failed (the GPU needs a reset, or service).
PENDING = ("retired_pages_pending", "remapped_rows_pending", "remapped_rows_failure")


class Thresholds(object):
    def __init__(self, temp_margin: int = 5, temp_cap: Optional[int] = None, perf_tolerance: float = 0.10) -> None:
        self.temp_margin = temp_margin
        self.temp_cap = temp_cap
        self.perf_tolerance = perf_tolerance


def temperature_limit(limits: Optional[Dict[str, Any]], thresholds: Thresholds) -> Optional[int]:
    """The highest temperature a GPU may reach in the burn-in: its max operating (else slowdown) temperature
    less the margin, and not above the absolute cap. None when neither is known."""
    found: List[int] = []
    limits = limits or {}
    base = limits.get("max_operating") if limits.get("max_operating") is not None else limits.get("slowdown")
    if base is not None:
        found.append(int(base) - thresholds.temp_margin)
    if thresholds.temp_cap is not None:
        found.append(int(thresholds.temp_cap))
    return min(found) if found else None


def _counter_growth(before: Dict[str, int], after: Dict[str, int]) -> List[str]:
    grown = []
    for name in sorted(after):
        if name in before and after[name] > before[name]:
            grown.append("%s %d -> %d" % (name, before[name], after[name]))
    return grown


def gpu_verdict(gpu: Dict[str, Any], thresholds: Thresholds) -> Dict[str, Any]:
    """Fills gpu["reasons"], gpu["warnings"], gpu["temp_limit"] and gpu["verdict"] (not the performance check)."""
    reasons: List[str] = list(gpu.get("burn_failures") or [])
    warnings: List[str] = list(gpu.get("warnings") or [])
    limit = temperature_limit(gpu.get("limits"), thresholds)
    gpu["temp_limit"] = limit
    max_temp = gpu.get("max_temp")
    if limit is None:
        warnings.append("no temperature limit known for this GPU (nvidia-smi -q -d TEMPERATURE printed none; no cap set)")
    elif max_temp is not None and max_temp > limit:
        reasons.append("temperature %d C above its limit %d C" % (max_temp, limit))
    for name, count in sorted((gpu.get("throttle_failing") or {}).items()):
        reasons.append("clock event %s in %d samples" % (name, count))
    pending = [name for name in PENDING if (gpu.get("ecc_before") or {}).get(name)]
    if pending:
        reasons.append("before the run: %s (a GPU reset or reboot applies them; then run the burn-in again)" % ", ".join(pending))
    grown = _counter_growth(gpu.get("ecc_before") or {}, gpu.get("ecc_after") or {})
    if grown:
        reasons.append("ECC/row errors grew: %s" % ", ".join(grown))
    for xid in gpu.get("xids") or []:
        reasons.append("XID error during the run: %s" % xid)
    for level in gpu.get("dcgm") or []:
        reasons.extend(level.get("failures") or [])
        warnings.extend(level.get("warnings") or [])
    if gpu.get("stopped_early"):
        reasons.append("stopped early: %s" % gpu["stopped_early"])
    gpu["reasons"], gpu["warnings"] = reasons, warnings
    gpu["verdict"] = "fail" if reasons else "pass"
    return gpu


def performance_check(gpus: List[Dict[str, Any]], thresholds: Thresholds) -> None:
    """Fails GPUs whose Gflop/s are below the median of the host's GPUs of their model by more than the tolerance."""
    by_model: Dict[str, List[Dict[str, Any]]] = {}
    for gpu in gpus:
        if gpu.get("gflops"):
            by_model.setdefault(str(gpu.get("name", "")), []).append(gpu)
    for model in by_model.values():
        median = statistics.median(g["gflops"] for g in model)
        for gpu in model:
            gpu["gflops_vs_median"] = round(gpu["gflops"] / median, 4) if median else None
            if median and gpu["gflops"] < median * (1 - thresholds.perf_tolerance):
                gpu["reasons"].append("throughput %.0f Gflop/s is %.1f%% below the host's median %.0f (tolerance %.0f%%)" % (
                    gpu["gflops"], 100 * (1 - gpu["gflops"] / median), median, 100 * thresholds.perf_tolerance))
                gpu["verdict"] = "fail"


def host_verdict(gpus: List[Dict[str, Any]], expected: Optional[int], seen: int, thresholds: Thresholds,
                 problems: Optional[List[str]] = None) -> Dict[str, Any]:
    """The host's verdict over its GPUs' (each through gpu_verdict, then the performance check)."""
    for gpu in gpus:
        gpu_verdict(gpu, thresholds)
    performance_check(gpus, thresholds)
    host_problems = list(problems or [])
    if expected is not None and seen < expected:
        host_problems.append("%d GPUs seen, %d expected" % (seen, expected))
    if not gpus:
        host_problems.append("no GPU was tested")
    failed = [g["index"] for g in gpus if g["verdict"] == "fail"]
    return {"verdict": "fail" if failed or host_problems else "pass", "failed_gpus": failed,
            "problems": host_problems, "warnings": sum(len(g["warnings"]) for g in gpus)}
