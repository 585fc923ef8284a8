# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The allocation map's GPU links: every GPU as a small box in index order, in its tenant's colour.
An NVSwitch fabric (or any all-to-all NVLink of one width) is one bar under them; otherwise each
NVLink is an arc above the row (thicker for more bonded links) and each PCIe-switch or host-bridge
link (PIX, PXB, PHB) a dashed arc below. NODE and SYS (through the CPUs) are not drawn."""

from __future__ import annotations

from typing import Any, Dict, List, Set, Tuple

from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.canvas import Canvas, text_width
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.palette import FREE, FREE_STROKE, ink_on

BOX_W = 34
BOX_H = 22
STEP = 46
NVLINK = "#2e7d32"
PCIE = {"PIX": ("#555555", "5 3"), "PXB": ("#777777", "2 3"), "PHB": ("#999999", "1 3")}
WARN = "#c0392b"


def fabric_label(report: Dict[str, Any]) -> str:
    """The NVLink label every pair of GPUs shares (an all-to-all fabric), else ""."""
    count = len(report["gpus"])
    labels = set(link["label"] for link in report["links"])
    if count > 2 and len(report["links"]) == count * (count - 1) // 2 and len(labels) == 1:
        (label,) = labels
        return label if label.startswith("NV") else ""
    return ""


def _arc_height(span: int) -> float:
    return min(12.0 + 9.0 * span, 110.0)


def _widths(labels: Set[str]) -> Dict[str, float]:
    """Stroke width per NVLink label: more bonded links, thicker (by rank among those present)."""
    ranked = sorted(labels, key=lambda label: int(label[2:]) if label[2:].isdigit() else 0)
    return dict((label, 1.5 + 1.5 * rank) for rank, label in enumerate(ranked))


def link_notes(report: Dict[str, Any]) -> str:
    """The caption under the links: what the marks mean."""
    notes: List[str] = []
    fabric = fabric_label(report)
    if fabric:
        notes.append("Green bar: NVLink %s between every pair of the %d GPUs (NVSwitch or all-to-all)."
                     % (fabric, len(report["gpus"])))
    else:
        widths = _widths(set(link["label"] for link in report["links"] if link["kind"] == "nvlink"))
        if widths:
            notes.append("Green arcs: NVLink (%s; thicker = more links)." % ", ".join(sorted(widths, key=widths.get)))
    shown = sorted(set(link["label"] for link in report["links"] if link["label"] in PCIE))
    if shown:
        notes.append("Dashed arcs below: PCIe (%s)." % ", ".join(
            "%s %s" % (label, {"PIX": "one switch", "PXB": "several switches", "PHB": "host bridge"}[label]) for label in shown))
    notes.append("Not drawn: NODE/SYS, through the CPUs.")
    return " ".join(notes)


def panel_size(report: Dict[str, Any]) -> Tuple[float, float, float]:
    """(width, height, row offset) of the links panel."""
    gpus = report["gpus"]
    if not gpus:
        return 0, 0, 0
    fabric = fabric_label(report)
    nv = [link for link in report["links"] if link["kind"] == "nvlink"] if not fabric else []
    pcie = [link for link in report["links"] if link["label"] in PCIE]
    above = max([_arc_height(l["gpus"][1] - l["gpus"][0]) * 0.75 for l in nv] or [0])
    below = 22 if fabric else max([_arc_height(l["gpus"][1] - l["gpus"][0]) * 0.75 for l in pcie] or [0])
    row_y = 24 + above + 6
    return max(len(gpus) * STEP, text_width(link_notes(report), 10.5)), row_y + BOX_H + below + 28, row_y


def draw_links(canvas: Canvas, report: Dict[str, Any], colours: Dict[str, str], x0: float, y0: float,
               flagged: Set[int]) -> float:
    """Draw the panel from (x0, y0); returns its height."""
    gpus = report["gpus"]
    if not gpus:
        return 0
    width, height, row_offset = panel_size(report)
    canvas.text(x0, y0 + 14, "GPU links", 13, "bold")
    row_y = y0 + row_offset
    centre = dict((g["index"], x0 + k * STEP + BOX_W / 2.0) for k, g in enumerate(gpus))
    fabric = fabric_label(report)
    if fabric:
        bar_y = row_y + BOX_H + 14
        canvas.rect(x0, bar_y, (len(gpus) - 1) * STEP + BOX_W, 6, NVLINK, rx=3, eid="nvlink-fabric",
                    tip="NVLink %s between every pair" % fabric)
        for x in centre.values():
            canvas.line(x, row_y + BOX_H, x, bar_y, NVLINK, 2)
    else:
        nv = [link for link in report["links"] if link["kind"] == "nvlink"]
        widths = _widths(set(link["label"] for link in nv))
        for link in nv:
            i, j = link["gpus"]
            if i in centre and j in centre:
                _arc(canvas, centre[i], centre[j], row_y, -_arc_height(j - i), NVLINK, widths[link["label"]], "",
                     "link-%d-%d" % (i, j), "GPU %d - GPU %d: %s" % (i, j, link["label"]))
    pcie = [link for link in report["links"] if link["label"] in PCIE]
    for link in pcie:
        i, j = link["gpus"]
        stroke, dash = PCIE[link["label"]]
        if i in centre and j in centre:
            _arc(canvas, centre[i], centre[j], row_y + BOX_H, _arc_height(j - i), stroke, 1.5, dash,
                 "link-%d-%d" % (i, j), "GPU %d - GPU %d: %s" % (i, j, link["label"]))
    for k, g in enumerate(gpus):
        tenant = g["tenant"]
        fill = colours[tenant] if tenant else FREE
        bx = x0 + k * STEP
        canvas.rect(bx, row_y, BOX_W, BOX_H, fill, WARN if g["index"] in flagged else (FREE_STROKE if not tenant else "#4a4a4a"),
                    2.5 if g["index"] in flagged else 1, rx=3, eid="links-gpu-%d" % g["index"],
                    tip="GPU %d: %s" % (g["index"], tenant or "free"), probe=(bx + 3.5, row_y + BOX_H / 2.0))
        canvas.text(bx + BOX_W / 2.0, row_y + 15, str(g["index"]), 11, "bold", ink_on(fill), anchor="middle")
    canvas.text(x0, y0 + height - 8, link_notes(report), 10.5, fill="#555555")
    return height


def _arc(canvas: Canvas, x1: float, x2: float, y: float, rise: float, stroke: str, width: float, dash: str,
         eid: str, tip: str) -> None:
    canvas.path("M %.1f %.1f C %.1f %.1f %.1f %.1f %.1f %.1f" % (x1, y, x1, y + rise, x2, y + rise, x2, y),
                stroke, width, dash, eid, tip)
