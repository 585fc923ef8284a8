# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CPU list helpers: parse and print the Linux/Docker cpuset form ("0-3,8,10-11")."""

from __future__ import annotations

from typing import Iterable, List


def parse_cpuset(text: str) -> List[int]:
    """Parse a CPU list such as "0-3,8, 10-11" into a sorted list of unique CPU ids.

    Whitespace (including newlines) is ignored; an empty or blank text gives [].
    Raises ValueError naming the offending text.
    """
    if text is None:
        return []
    if not isinstance(text, str):
        raise ValueError("CPU list must be text, got %r" % (text,))
    compact = "".join(text.split())
    if not compact:
        return []
    cpus = set()
    for part in compact.split(","):
        if not part:
            raise ValueError("bad CPU list %r: empty item" % (text,))
        lo_text, sep, hi_text = part.partition("-")
        if not lo_text.isdigit() or (sep and not hi_text.isdigit()):
            raise ValueError("bad CPU list %r: %r is not a CPU number or range" % (text, part))
        lo = int(lo_text)
        hi = int(hi_text) if sep else lo
        if hi < lo:
            raise ValueError("bad CPU list %r: range %r runs backwards" % (text, part))
        cpus.update(range(lo, hi + 1))
    return sorted(cpus)


def format_cpuset(cpus: Iterable[int]) -> str:
    """Print CPU ids in the canonical sorted range form, e.g. "16-31,144-159" ("" for none)."""
    ids = sorted(set(int(c) for c in cpus))
    for cpu in ids:
        if cpu < 0:
            raise ValueError("bad CPU id %d: CPU ids are >= 0" % cpu)
    parts: List[str] = []
    start = prev = None
    for cpu in ids:
        if start is None:
            start = prev = cpu
        elif cpu == prev + 1:
            prev = cpu
        else:
            parts.append(_span(start, prev))
            start = prev = cpu
    if start is not None:
        parts.append(_span(start, prev))
    return ",".join(parts)


def _span(start: int, end: int) -> str:
    return str(start) if start == end else "%d-%d" % (start, end)
