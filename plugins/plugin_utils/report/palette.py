# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tenant colours of the allocation map: a fixed palette, given out by sorted tenant name, so the
same tenants get the same colours on every run and every host. Free is white, which no tenant gets."""

from __future__ import annotations

from typing import Dict, Iterable

# Distinct at a glance, none white or pale grey (free) nor close to the warning red (#c0392b).
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2",
    "#ff9da7", "#9c755f", "#8cd17d", "#a0cbe8", "#d37295", "#86bcb6",
)
FREE = "#ffffff"
FREE_STROKE = "#9a9a9a"


def tenant_colours(names: Iterable[str]) -> Dict[str, str]:
    """{tenant: colour}: the n-th name in sorted order gets PALETTE[n % len(PALETTE)]."""
    return dict((name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(sorted(set(names))))


def ink_on(fill: str) -> str:
    """Black or white text, whichever reads better on `fill` (#rrggbb)."""
    red, green, blue = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#111111" if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else "#ffffff"
