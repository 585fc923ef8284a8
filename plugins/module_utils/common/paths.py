# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where one normalised absolute path lies relative to another (pure string tests, no I/O)."""

from __future__ import annotations


def inside(path: str, parent: str) -> bool:
    """True when `path` is `parent` or lies below it."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def overlaps(a: str, b: str) -> bool:
    """True when a equals, contains or lies inside b."""
    return inside(a, b) or inside(b, a)
