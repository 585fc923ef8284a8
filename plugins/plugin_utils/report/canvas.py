# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny SVG writer for the allocation map: rectangles, text, lines and paths, every text escaped,
and the probe point of each filled shape (a point showing only its fill, for tests that read the
rendered picture's pixels)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.escape import esc

FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
CHAR_WIDTH = 0.62  # of the font size: DejaVu Sans runs wide; used to size boxes around text


def text_width(text: str, size: float) -> float:
    return len(text) * size * CHAR_WIDTH


def _num(value: float) -> str:
    return ("%.1f" % value).rstrip("0").rstrip(".")


class Canvas(object):
    """SVG elements in drawing order; probes: {element id: (x, y, fill)}."""

    def __init__(self) -> None:
        self.parts: List[str] = []
        self.probes: Dict[str, Tuple[float, float, str]] = {}

    def rect(self, x: float, y: float, w: float, h: float, fill: str, stroke: str = "none", width: float = 1,
             rx: float = 0, eid: Optional[str] = None, tip: Optional[str] = None, probe: Optional[Tuple[float, float]] = None,
             data: Optional[Dict[str, Any]] = None, dash: str = "") -> None:
        attrs = ['x="%s" y="%s" width="%s" height="%s" fill="%s"' % (_num(x), _num(y), _num(w), _num(h), fill)]
        if stroke != "none":
            attrs.append('stroke="%s" stroke-width="%s"' % (stroke, _num(width)))
        if dash:
            attrs.append('stroke-dasharray="%s"' % dash)
        if rx:
            attrs.append('rx="%s"' % _num(rx))
        if eid:
            attrs.insert(0, 'id="%s"' % esc(eid))
            self.probes[eid] = (probe[0], probe[1], fill) if probe else (x + w / 2.0, y + h / 2.0, fill)
        for key, value in sorted((data or {}).items()):
            attrs.append('data-%s="%s"' % (key, esc(value)))
        body = "<title>%s</title>" % esc(tip) if tip else ""
        self.parts.append("<rect %s%s" % (" ".join(attrs), ">%s</rect>" % body if body else "/>"))

    def text(self, x: float, y: float, value: Any, size: float = 12, weight: str = "normal", fill: str = "#222222",
             anchor: str = "start", family: str = "") -> None:
        attrs = 'x="%s" y="%s" font-size="%s" fill="%s"' % (_num(x), _num(y), _num(size), fill)
        if weight != "normal":
            attrs += ' font-weight="%s"' % weight
        if anchor != "start":
            attrs += ' text-anchor="%s"' % anchor
        if family:
            attrs += ' font-family="%s"' % esc(family)
        self.parts.append("<text %s>%s</text>" % (attrs, esc(value)))

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1, dash: str = "") -> None:
        extra = ' stroke-dasharray="%s"' % dash if dash else ""
        self.parts.append('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>'
                          % (_num(x1), _num(y1), _num(x2), _num(y2), stroke, _num(width), extra))

    def path(self, d: str, stroke: str, width: float = 1, dash: str = "", eid: Optional[str] = None, tip: str = "") -> None:
        extra = ' stroke-dasharray="%s"' % dash if dash else ""
        ident = ' id="%s"' % esc(eid) if eid else ""
        head = '<path%s d="%s" fill="none" stroke="%s" stroke-width="%s"%s' % (ident, d, stroke, _num(width), extra)
        self.parts.append(head + ("><title>%s</title></path>" % esc(tip) if tip else "/>"))

    def svg(self, width: float, height: float, title: str) -> str:
        head = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s">\n'
                '<title>%s</title>\n<rect x="0" y="0" width="%d" height="%d" fill="#fbfbf8"/>\n'
                % (width, height, width, height, FONT, esc(title), width, height))
        return head + "\n".join(self.parts) + "\n</svg>\n"
