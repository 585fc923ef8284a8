# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The allocation map's NUMA nodes: one box per node holding its CPUs as small cells (the
hyperthreads of one physical core stacked in one column, cores in rows of 16 to 32) and, under them,
its GPUs as labelled boxes; each cell and GPU filled in its tenant's colour, free ones white.
Boxes sit in a grid of up to four per row, all of one size."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Set, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.canvas import Canvas, text_width
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.escape import shorten
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.palette import FREE, FREE_STROKE, ink_on

CELL = 9          # a CPU cell, in px
PITCH = 10        # cell plus gap
ROW_GAP = 5       # between rows of cores
PAD = 12          # inside a box
HEADER = 40       # the box's two header lines
GPU_W = 112
GPU_H = 54
GPU_GAP = 10
GPUS_PER_ROW = 4
BOX_GAP = 18
BOXES_PER_ROW = 4
WARN = "#c0392b"
LABEL_SIZE = 8.5  # the CPU numbers right of each row of cells
MIG_GAP = 2       # between the cells of a GPU's MIG instances


class NodeBox(object):
    """One NUMA node's box: its geometry and what goes in it."""

    def __init__(self, node: Dict[str, Any], gpus: List[Dict[str, Any]]) -> None:
        self.node = node
        self.gpus = gpus
        cores = node["cores"]
        self.threads = max([len(c) for c in cores] or [1])
        gpu_cols = min(GPUS_PER_ROW, len(gpus))
        self.gpu_w = gpu_cols * (GPU_W + GPU_GAP) - GPU_GAP if gpus else 0
        if len(cores) <= 16:
            cols = max(1, len(cores))
        else:
            cols = max(16, min(32, int((self.gpu_w + GPU_GAP) // PITCH)))
            cols = int(math.ceil(len(cores) / float(int(math.ceil(len(cores) / float(cols))))))  # even rows
        self.cols = cols
        self.core_rows = int(math.ceil(len(cores) / float(cols))) if cores else 0
        self.grid_w = cols * PITCH if cores else 0
        self.grid_h = self.core_rows * self.threads * PITCH + max(0, self.core_rows - 1) * ROW_GAP if cores else 14
        # Each row of cells is labelled with its CPUs: "0-31" over "128-159" for a row of 32 two-thread cores.
        self.labels = [[shorten(format_cpuset(core[t] for core in cores[r * cols:(r + 1) * cols] if len(core) > t), 14)
                        for t in range(self.threads)] for r in range(self.core_rows)]
        label_w = max([text_width(text, LABEL_SIZE) for row in self.labels for text in row] or [0]) + 8
        self.gpu_rows = int(math.ceil(len(gpus) / float(GPUS_PER_ROW)))
        self.gpus_h = self.gpu_rows * (GPU_H + GPU_GAP) - GPU_GAP if gpus else 0
        self.header, self.subheader = _headers(node, gpus)
        inner = max(self.grid_w + label_w, self.gpu_w, text_width(self.header, 13), text_width(self.subheader, 11), 150)
        self.width = inner + 2 * PAD
        self.height = HEADER + self.grid_h + (PAD + self.gpus_h if gpus else 0) + PAD


def _headers(node: Dict[str, Any], gpus: List[Dict[str, Any]]) -> Tuple[str, str]:
    if node["id"] is None:
        return "NUMA node unknown", "GPUs whose NUMA node the topology does not say"
    free_gpus = sum(1 for g in gpus if not g["tenants"])
    gpu_text = "" if not gpus else " \u00b7 %d GPU%s, %d free" % (len(gpus), "" if len(gpus) == 1 else "s", free_gpus)
    cpus = len(node["cpus"])
    return ("NUMA node %d" % node["id"],
            ("%d CPUs, %d free" % (cpus, len(node["free_cpus"])) if cpus else "no CPUs") + gpu_text)


def node_boxes(report: Dict[str, Any]) -> List[NodeBox]:
    by_node: Dict[Optional[int], List[Dict[str, Any]]] = {}
    for gpu in report["gpus"]:
        by_node.setdefault(gpu["numa_node"], []).append(gpu)
    boxes = [NodeBox(node, by_node.get(node["id"], [])) for node in report["numa_nodes"]]
    known = set(node["id"] for node in report["numa_nodes"])
    lost = [g for g in report["gpus"] if g["numa_node"] not in known]
    if lost:
        boxes.append(NodeBox({"id": None, "cpus": [], "cores": [], "free_cpus": []}, lost))
    return boxes


def draw_nodes(canvas: Canvas, report: Dict[str, Any], colours: Dict[str, str], owner: Dict[int, str],
               x0: float, y0: float, flagged: Set[int]) -> Tuple[float, float]:
    """Draw every NUMA box from (x0, y0): CPU cells coloured by `owner` ({cpu: tenant}), GPUs with a
    warning (`flagged`) outlined in red. Returns (width, height) of the grid."""
    boxes = node_boxes(report)
    if not boxes:
        return 0, 0
    per_row = min(BOXES_PER_ROW, len(boxes))
    width = max(b.width for b in boxes)
    rows = [boxes[i:i + per_row] for i in range(0, len(boxes), per_row)]
    y = y0
    for row in rows:
        height = max(b.height for b in row)
        for col, box in enumerate(row):
            _draw_box(canvas, box, x0 + col * (width + BOX_GAP), y, width, height, colours, owner, flagged)
        y += height + BOX_GAP
    return per_row * (width + BOX_GAP) - BOX_GAP, y - BOX_GAP - y0


def _draw_box(canvas: Canvas, box: NodeBox, x: float, y: float, width: float, height: float,
              colours: Dict[str, str], owner: Dict[int, str], flagged: Set[int]) -> None:
    node_id = box.node["id"]
    canvas.rect(x, y, width, height, "#f1f3f6", "#7f8c9a", 1.2, rx=6,
                eid="numa-%s" % ("unknown" if node_id is None else node_id))
    canvas.text(x + PAD, y + 18, box.header, 13, "bold")
    canvas.text(x + PAD, y + 33, box.subheader, 11, fill="#555555")
    gx, gy = x + PAD, y + HEADER
    if not box.node["cores"] and node_id is not None:
        canvas.text(gx, gy + 10, "no CPUs on this node (memory only)", 11, fill="#777777")
    for k, core in enumerate(box.node["cores"]):
        cx = gx + (k % box.cols) * PITCH
        cy = gy + (k // box.cols) * (box.threads * PITCH + ROW_GAP)
        for t, cpu in enumerate(core):
            tenant = owner.get(cpu)
            fill = colours[tenant] if tenant else FREE
            canvas.rect(cx, cy + t * PITCH, CELL, CELL, fill, "#8a8a8a" if tenant else FREE_STROKE, 0.6,
                        eid="cpu-%d" % cpu, tip="CPU %d: %s" % (cpu, tenant or "free"),
                        data={"tenant": tenant} if tenant else None)
    for r, row in enumerate(box.labels):
        for t, label in enumerate(row):
            canvas.text(gx + box.grid_w + 5, gy + r * (box.threads * PITCH + ROW_GAP) + t * PITCH + 8, label, LABEL_SIZE,
                        fill="#6b7380")
    ty = gy + box.grid_h + PAD
    for k, gpu in enumerate(box.gpus):
        _draw_gpu(canvas, gpu, gx + (k % GPUS_PER_ROW) * (GPU_W + GPU_GAP), ty + (k // GPUS_PER_ROW) * (GPU_H + GPU_GAP),
                  colours, gpu["index"] in flagged)


def _draw_gpu(canvas: Canvas, gpu: Dict[str, Any], x: float, y: float, colours: Dict[str, str], flagged: bool) -> None:
    # A GPU in MIG mode is drawn free (white) with one cell per instance in its holder's colour.
    tenant = None if gpu.get("mig_instances") else gpu["tenant"]
    fill = colours[tenant] if tenant else FREE
    ink = ink_on(fill)
    tip = "GPU %d %s %s: %s" % (gpu["index"], gpu.get("name") or "", gpu.get("uuid") or "",
                                ", ".join(gpu["tenants"]) if gpu["tenants"] else "free")
    canvas.rect(x, y, GPU_W, GPU_H, fill, WARN if flagged else "#4a4a4a", 3 if flagged else 1.2, rx=4,
                eid="gpu-%d" % gpu["index"], tip=tip, probe=(x + 4.5, y + GPU_H / 2.0),
                data={"tenant": tenant} if tenant else None)
    canvas.text(x + 8, y + 17, "GPU %d" % gpu["index"], 13, "bold", ink)
    canvas.text(x + 8, y + 31, shorten(_model(gpu.get("name")), 17), 10, fill=ink)
    if gpu.get("mig_instances"):
        _draw_instances(canvas, gpu, x, y, colours)
        return
    who = "+".join(gpu["tenants"]) if gpu["tenants"] else "free"
    canvas.text(x + 8, y + 46, shorten(who, 15), 12, "bold" if tenant else "normal", ink)
    if flagged:
        canvas.text(x + GPU_W - 8, y + 17, "!", 14, "bold", WARN if ink != "#ffffff" else "#ffffff", anchor="end")


def _draw_instances(canvas: Canvas, gpu: Dict[str, Any], x: float, y: float, colours: Dict[str, str]) -> None:
    """A GPU's MIG instances as a row of cells along its bottom edge, in their holders' colours."""
    instances = gpu["mig_instances"]
    width = (GPU_W - 16 - (len(instances) - 1) * MIG_GAP) / float(len(instances))
    for k, inst in enumerate(instances):
        holder = inst["tenant"]
        canvas.rect(x + 8 + k * (width + MIG_GAP), y + 37, width, 11, colours[holder] if holder else FREE,
                    "#4a4a4a" if holder else FREE_STROKE, 0.8, eid="mig-%s" % inst["uuid"],
                    tip="GPU %d MIG %s %s: %s" % (gpu["index"], inst["profile"], inst["uuid"], holder or "free"),
                    data={"tenant": holder} if holder else None)


def _model(name: Any) -> str:
    text = str(name or "")
    for prefix in ("NVIDIA ", "Tesla ", "GeForce "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text
