# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The allocation map of one host as an SVG, from gpulab.dgx.allocation_info's `allocation`: a title
with the totals, the NUMA nodes with their CPUs and GPUs (numa_boxes.py), the GPU links (links.py),
a legend with each tenant's colour, SSH port and limits, and the warnings.

Element ids a reader (or a test) can find: `cpu-<n>`, `gpu-<i>`, `links-gpu-<i>`, `numa-<id>`,
`legend-<k>` (k-th tenant by name), `legend-free`, `warnings`. render_svg() also returns each
filled element's probe point: a point that shows only its fill."""

from __future__ import annotations

from typing import Any, Dict, List, Set, Tuple

from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.canvas import Canvas, text_width
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.escape import shorten
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.links import draw_links, panel_size
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.numa_boxes import WARN, draw_nodes, node_boxes, BOX_GAP, BOXES_PER_ROW
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.palette import FREE, FREE_STROKE, tenant_colours
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.shape import ReportShapeError, check_report, totals_line, tenant_line

MARGIN = 20
LEGEND_ROW = 36
MIN_WIDTH = 720
FLAGGED_KINDS = ("foreign_process", "shared_gpu")


class Drawing(object):
    """The SVG text and the probe point {element id: (x, y, fill)} of every filled element."""

    def __init__(self, svg: str, probes: Dict[str, Tuple[float, float, str]], width: int, height: int) -> None:
        self.svg = svg
        self.probes = probes
        self.width = width
        self.height = height


def render_svg(report: Any, title: str = "") -> Drawing:
    """Draw `report` (raises ReportShapeError naming what is wrong with it)."""
    report = check_report(report)
    title = title or report["host"].get("hostname") or "GPU host"
    colours = tenant_colours(t["name"] for t in report["tenants"])
    owner: Dict[int, str] = {}
    for tenant in report["tenants"]:  # sorted by name: the first holder of a shared CPU colours it
        for cpu in tenant["cpus"]:
            owner.setdefault(cpu, tenant["name"])
    flagged: Set[int] = set(w["gpu"] for w in report["warnings"] if w["kind"] in FLAGGED_KINDS and w["gpu"] is not None)

    width = _width(report)
    canvas = Canvas()
    canvas.text(MARGIN, MARGIN + 16, shorten("Allocation map \u00b7 %s" % title, 90), 18, "bold", "#111111")
    canvas.text(MARGIN, MARGIN + 36, totals_line(report), 12, fill="#333333")
    y = MARGIN + 54
    grid_h = draw_nodes(canvas, report, colours, owner, MARGIN, y, flagged)[1]
    y += grid_h + 22
    y += draw_links(canvas, report, colours, MARGIN, y, flagged)
    y = _legend(canvas, report, colours, MARGIN, y + 6, width - 2 * MARGIN)
    y = _warnings(canvas, report, MARGIN, y + 10, width - 2 * MARGIN)
    height = int(y + MARGIN)
    return Drawing(canvas.svg(width, height, "Allocation map of %s" % title), canvas.probes, width, height)


def _width(report: Dict[str, Any]) -> int:
    boxes = node_boxes(report)
    grid = 0.0
    if boxes:
        per_row = min(BOXES_PER_ROW, len(boxes))
        grid = per_row * (max(b.width for b in boxes) + BOX_GAP) - BOX_GAP
    return int(max(grid, panel_size(report)[0], MIN_WIDTH, text_width(totals_line(report), 12)) + 2 * MARGIN)


def _legend(canvas: Canvas, report: Dict[str, Any], colours: Dict[str, str], x: float, y: float, width: float) -> float:
    canvas.text(x, y + 14, "Tenants", 13, "bold")
    y += 24
    chars = int(width / (10.5 * 0.62)) - 4
    for k, tenant in enumerate(report["tenants"]):
        fill = colours[tenant["name"]]
        canvas.rect(x, y + 2, 22, 22, fill, "#4a4a4a", 1, rx=3, eid="legend-%d" % k, data={"tenant": tenant["name"]})
        head = tenant["name"] + ("  (parked)" if tenant["parked"] else "") + ("" if tenant["running"] else "  (stopped)")
        port = "ssh port %s" % tenant["ssh_port"] if tenant["ssh_port"] else "no ssh port"
        canvas.text(x + 32, y + 12, shorten(head, max(10, chars // 2)), 12.5, "bold", "#111111")
        canvas.text(x + 32 + text_width(shorten(head, max(10, chars // 2)), 12.5) + 14, y + 12, port, 12, fill="#333333")
        canvas.text(x + 32, y + 27, shorten(tenant_line(tenant), chars), 10.5, fill="#444444")
        y += LEGEND_ROW
    canvas.rect(x, y + 2, 22, 22, FREE, FREE_STROKE, 1, rx=3, eid="legend-free")
    canvas.text(x + 32, y + 12, "free", 12.5, "bold", "#111111")
    lines = _wrap(_free_line(report), chars)
    for k, line in enumerate(lines):
        canvas.text(x + 32, y + 27 + 14 * k, line, 10.5, fill="#444444")
    return y + LEGEND_ROW + 14 * (len(lines) - 1)


def _free_line(report: Dict[str, Any]) -> str:
    free = report["free"]
    parts = []
    for entry in free["by_numa"]:
        bits = []
        if entry["gpus"]:
            bits.append("GPU%s %s" % ("" if len(entry["gpus"]) == 1 else "s", ",".join(str(i) for i in entry["gpus"])))
        if entry["cpus"]:
            bits.append("%d CPUs" % entry["cpus"])
        if bits:
            parts.append("node %d: %s" % (entry["numa_node"], " + ".join(bits)))
    return "%d GPUs, %d CPUs%s" % (len(free["gpus"]), free["cpus"], " \u2014 " + "; ".join(parts) if parts else "")


def _warnings(canvas: Canvas, report: Dict[str, Any], x: float, y: float, width: float) -> float:
    found = report["warnings"]
    if not found:
        canvas.text(x, y + 14, "No warnings.", 12, "bold", "#2e7d32")
        return y + 20
    chars = int(width / (11 * 0.62)) - 4
    lines: List[str] = []
    for item in found:
        lines.extend(_wrap("\u2022 " + item["message"], chars))
    height = 28 + 16 * len(lines)
    canvas.rect(x, y, width, height, "#fdecea", WARN, 1.2, rx=5, eid="warnings")
    canvas.text(x + 10, y + 18, "Warnings (%d)" % len(found), 13, "bold", WARN)
    for k, line in enumerate(lines):
        canvas.text(x + 10, y + 36 + 16 * k, line, 11, fill="#5a1d16")
    return y + height


def _wrap(text: str, chars: int) -> List[str]:
    chars = max(20, chars)
    lines: List[str] = []
    rest = text
    while len(rest) > chars:
        cut = rest.rfind(" ", 0, chars)
        cut = cut if cut > chars // 2 else chars
        lines.append(rest[:cut])
        rest = "  " + rest[cut:].lstrip()
    lines.append(rest)
    return lines


__all__ = ["Drawing", "ReportShapeError", "render_svg"]
