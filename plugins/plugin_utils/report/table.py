# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The allocation map of one host as a fixed-width text table: per tenant what `docker ps` cannot
say (GPUs, CPUs and cpuset, NUMA nodes, memory and disk limits, SSH port), the free GPUs and CPUs
of each NUMA node, and the warnings."""

from __future__ import annotations

import unicodedata
from typing import Any, List, Sequence

from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.escape import shorten
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.shape import check_report, gpu_text, numa_text, totals_line

NAME_WIDTH = 32
IMAGE_WIDTH = 56


def plain(value: Any, limit: int = 200) -> str:
    """One line of printable text: control and format characters, and the line and paragraph separators
    (U+2028, U+2029, which end a line as newline does), become '?'; long text is cut."""
    text = "".join("?" if unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp") else c
                   for c in shorten(value, limit))
    return text


def columns(header: Sequence[str], rows: List[Sequence[str]]) -> List[str]:
    widths = [max([len(header[i])] + [len(row[i]) for row in rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return lines


def render_table(report: Any, title: str = "") -> str:
    report = check_report(report)
    title = plain(title or report["host"].get("hostname") or "GPU host", 80)
    lines = ["Allocation of %s: %s" % (title, totals_line(report)), ""]
    rows = []
    for tenant in report["tenants"]:
        flags = ("" if tenant["running"] else " (stopped)") + (" (parked)" if tenant["parked"] else "")
        rows.append([plain(tenant["name"], NAME_WIDTH) + flags, plain(gpu_text(tenant), 60), str(len(tenant["cpus"])),
                     plain(tenant["cpuset"] or "-", 60), numa_text(tenant), tenant["memory_limit"] or "-",
                     tenant["disk_limit"] or "-", str(tenant["ssh_port"] or "-"), plain(tenant["image"], IMAGE_WIDTH) or "-"])
    if rows:
        lines.extend(columns(["TENANT", "GPUS", "CPUS", "CPUSET", "NUMA", "MEMORY", "DISK", "SSH", "IMAGE"], rows))
    else:
        lines.append("No tenants.")
    lines.extend(["", "Free per NUMA node:"])
    free_rows = [[str(entry["numa_node"]), ",".join(str(i) for i in entry["gpus"]) or "-", str(entry["cpus"]), entry["cpuset"] or "-"]
                 for entry in report["free"]["by_numa"]]
    free_rows.append(["all", ",".join(str(i) for i in report["free"]["gpus"]) or "-", str(report["free"]["cpus"]), ""])
    lines.extend(columns(["NODE", "FREE GPUS", "FREE CPUS", "FREE CPUSET"], free_rows))
    lines.append("")
    if report["warnings"]:
        lines.append("Warnings:")
        lines.extend("- " + plain(w["message"], 400) for w in report["warnings"])
    else:
        lines.append("No warnings.")
    return "\n".join(lines) + "\n"
