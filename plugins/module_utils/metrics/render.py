# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prometheus text exposition format 0.0.4: families in the order given, each with its HELP and TYPE
lines, its samples sorted by their label values in the order the labels were given (digit runs as
numbers: gpu "10" after "9"), labels written in that order, label values and help texts escaped, no
timestamps. The same families always give the same bytes."""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List, Tuple, Union

Number = Union[int, float]
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_DIGITS = re.compile(r"(\d+)")
TYPES = ("counter", "gauge", "untyped")


class Family(object):
    """One metric family: name, type, help text and samples ({label: value}, number)."""

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        if not _NAME.match(name):
            raise ValueError("bad metric name %r" % name)
        if kind not in TYPES:
            raise ValueError("bad metric type %r" % kind)
        self.name = name
        self.kind = kind
        self.help_text = help_text
        self.samples: List[Tuple[Dict[str, str], Number]] = []

    def add(self, value: Number, **labels: Any) -> None:
        for label in labels:
            if not _LABEL.match(label) or label.startswith("__"):
                raise ValueError("bad label name %r" % label)
        self.samples.append((dict((k, "" if v is None else str(v)) for k, v in labels.items()), value))


def escape_label(value: str) -> str:
    """A label value as the format writes it: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """A HELP text as the format writes it: backslash and line feed escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: Number) -> str:
    """A sample value: whole numbers without a decimal point, floats in Python's shortest round-trip
    form (which Prometheus reads back exactly), +Inf, -Inf and NaN as the format spells them."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _natural(value: str) -> List[Tuple[int, Any]]:
    """A value's sort key with its digit runs as numbers ("GPU-9" before "GPU-10", gpu "2" before "10")."""
    return [(0, int(part)) if part.isdecimal() else (1, part) for part in _DIGITS.split(value) if part]


def _sort_key(labels: Dict[str, str]) -> List[Tuple[str, List[Tuple[int, Any]]]]:
    return [(name, _natural(value)) for name, value in labels.items()]


def render(families: List[Family]) -> str:
    """The exposition text of every family that has samples, in the order given."""
    lines: List[str] = []
    for family in families:
        if not family.samples:
            continue
        lines.append("# HELP %s %s" % (family.name, escape_help(family.help_text)))
        lines.append("# TYPE %s %s" % (family.name, family.kind))
        seen = set()
        for labels, value in sorted(family.samples, key=lambda sample: _sort_key(sample[0])):
            text = ",".join('%s="%s"' % (name, escape_label(value)) for name, value in labels.items())
            if text in seen:
                raise ValueError("%s{%s} given twice" % (family.name, text))
            seen.add(text)
            lines.append("%s{%s} %s" % (family.name, text, format_value(value)) if text else "%s %s" % (family.name, format_value(value)))
    return "\n".join(lines) + "\n" if lines else ""
