# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Byte sizes as admins write them ("128G", "512GiB", "1.5T", "100M") to bytes, and back.

Every unit is binary, as Docker reads `-m 128g` and `--storage-opt size=512G`:
K = KB = KiB = 1024, M = MB = MiB = 1024**2, G = GB = GiB = 1024**3, T = TB = TiB, P = PB = PiB.
Units are case-insensitive; a bare number (or the unit B) is bytes. Fractions are allowed
("1.5T") and rounded down to whole bytes. Anything else is rejected, naming the value.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Optional, Union

from ansible_collections.gpulab.dgx.plugins.module_utils.common.errors import FieldError

_POWERS = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*([A-Za-z]*)\s*$")
_UNIT_RE = re.compile(r"^(?:([kmgtp])(?:i?b)?|b?)$")


class SizeError(FieldError):
    """A size that cannot be read; the message names the field and the value."""


def parse_size(value: Union[str, int, float, None], field: str = "size") -> int:
    """Return the number of bytes that `value` stands for; raise SizeError naming `field` and value."""
    if isinstance(value, bool) or value is None:
        raise SizeError(field, value, "is not a size (use e.g. 128G, 512GiB, 1.5T, 100M)")
    if isinstance(value, int):
        if value < 0:
            raise SizeError(field, value, "is negative; sizes are >= 0")
        return value
    text = str(value)
    if text.strip().startswith("-"):
        raise SizeError(field, value, "is negative; sizes are >= 0")
    match = _SIZE_RE.match(text)
    if not match:
        raise SizeError(field, value, "is not a size (use e.g. 128G, 512GiB, 1.5T, 100M)")
    number, unit = match.group(1), match.group(2).lower()
    unit_match = _UNIT_RE.match(unit)
    if not unit_match:
        raise SizeError(field, value, "has an unknown unit %r (known: B, K/KB/KiB, M/MB/MiB, G/GB/GiB, "
                        "T/TB/TiB, P/PB/PiB; all binary, as Docker reads them)" % match.group(2))
    power = _POWERS[unit_match.group(1) or ""]
    try:
        amount = Decimal(number) * (1024 ** power)
    except InvalidOperation:  # pragma: no cover - the pattern only lets decimal numbers through
        raise SizeError(field, value, "is not a size")
    return int(amount)


def format_size(num_bytes: Optional[int]) -> str:
    """Print bytes in the largest binary unit that divides them ("128G", "1536M", "100B")."""
    if num_bytes is None:
        return ""
    for suffix, power in (("P", 5), ("T", 4), ("G", 3), ("M", 2), ("K", 1)):
        unit = 1024 ** power
        if num_bytes >= unit and num_bytes % unit == 0:
            return "%d%s" % (num_bytes // unit, suffix)
    return "%dB" % num_bytes


def human_size(num_bytes: int) -> str:
    """Print bytes rounded to one decimal in the largest fitting binary unit ("1.5G")."""
    amount = float(num_bytes)
    for suffix in ("B", "K", "M", "G", "T"):
        if amount < 1024:
            return ("%.1f%s" % (amount, suffix)).replace(".0", "")
        amount /= 1024
    return ("%.1fP" % amount).replace(".0", "")
