# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The allocation map a renderer takes (gpulab.dgx.allocation_info's `allocation`, or its whole
registered result), checked so that bad input fails naming the field, and the lines of text every
renderer shares (totals, one tenant's allocation)."""

from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.gpulab.dgx.plugins.module_utils.common.sizes import format_size

SECTIONS = {"host": dict, "numa_nodes": list, "gpus": list, "links": list, "tenants": list, "free": dict, "warnings": list}
ITEM_KEYS = {
    "numa_nodes": ("id", "cpus", "cores", "free_cpus"),
    "gpus": ("index", "numa_node", "tenant", "tenants"),
    "links": ("gpus", "label", "kind"),
    "tenants": ("name", "image", "ssh_port", "gpus", "cpus", "cpuset", "memory_limit", "disk_limit"),
    "warnings": ("kind", "message", "gpu"),
}


class ReportShapeError(ValueError):
    """Input that is not an allocation map; the message names the field."""


def check_report(value: Any, what: str = "allocation") -> Dict[str, Any]:
    """The allocation map in `value` (the module's result is unwrapped), its sections checked."""
    if isinstance(value, dict) and "allocation" in value and "host" not in value:
        if value.get("failed"):
            raise ReportShapeError("%s: the module failed: %s" % (what, value.get("msg", "")))
        value = value["allocation"]
    if not isinstance(value, dict):
        raise ReportShapeError("%s must be the allocation dict gpulab.dgx.allocation_info returns, got %s"
                               % (what, type(value).__name__))
    for key, kind in SECTIONS.items():
        if not isinstance(value.get(key), kind):
            raise ReportShapeError("%s.%s must be a %s, got %r" % (what, key, kind.__name__, _short(value.get(key))))
    for key, needed in ITEM_KEYS.items():
        for index, item in enumerate(value[key]):
            if not isinstance(item, dict) or any(n not in item for n in needed):
                raise ReportShapeError("%s.%s[%d] must be a dict with %s, got %r" % (what, key, index, ", ".join(needed), _short(item)))
    names = [t["name"] for t in value["tenants"]]
    for index, gpu in enumerate(value["gpus"]):
        if not isinstance(gpu["index"], int) or not isinstance(gpu["tenants"], list):
            raise ReportShapeError("%s.gpus[%d] needs an integer index and a tenants list, got %r" % (what, index, _short(gpu)))
        unknown = [t for t in gpu["tenants"] if t not in names]
        if unknown:
            raise ReportShapeError("%s.gpus[%d] is held by %r, which tenants does not list" % (what, index, unknown[0]))
    for index, tenant in enumerate(value["tenants"]):
        if not isinstance(tenant["name"], str) or not isinstance(tenant["cpus"], list):
            raise ReportShapeError("%s.tenants[%d] needs a name and a cpus list, got %r" % (what, index, _short(tenant)))
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def totals_line(report: Dict[str, Any]) -> str:
    host = report["host"]
    gpus, cpus = host.get("gpus") or {}, host.get("cpus") or {}
    parts = ["GPUs %s held, %s free of %s" % (gpus.get("held", "?"), gpus.get("free", "?"), gpus.get("total", "?")),
             "CPUs %s held, %s free of %s" % (cpus.get("held", "?"), cpus.get("free", "?"), cpus.get("total", "?")),
             "%d tenant%s" % (len(report["tenants"]), "" if len(report["tenants"]) == 1 else "s")]
    if host.get("memory_limit_bytes"):
        parts.append("memory %s" % format_size(host["memory_limit_bytes"]))
    if host.get("disk_limit_bytes"):
        parts.append("disk %s" % format_size(host["disk_limit_bytes"]))
    return " \u00b7 ".join(parts)


def gpu_text(tenant: Dict[str, Any]) -> str:
    shown: List[str] = []
    for gpu in tenant["gpus"]:
        shown.append(str(gpu["index"]) if gpu.get("index") is not None else "?%s" % (gpu.get("uuid") or ""))
    return ",".join(shown) if shown else "-"


def numa_text(tenant: Dict[str, Any]) -> str:
    nodes = sorted(set(tenant.get("cpu_numa_nodes") or []) | set(tenant.get("gpu_numa_nodes") or []))
    return ",".join(str(n) for n in nodes) if nodes else "-"


def tenant_line(tenant: Dict[str, Any]) -> str:
    """GPUs, CPUs, NUMA nodes, memory, disk, image of one tenant, on one line."""
    parts = ["GPUs %s" % gpu_text(tenant),
             "%d CPUs %s" % (len(tenant["cpus"]), tenant["cpuset"]) if tenant["cpus"] else "CPUs not pinned",
             "NUMA %s" % numa_text(tenant),
             "memory %s" % (tenant["memory_limit"] or "unlimited"),
             "disk %s" % (tenant["disk_limit"] or "unlimited"),
             tenant["image"] or ""]
    return "  \u00b7  ".join(p.strip() for p in parts if p)
