# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each GPU's own temperature limits, and NVML's clock event (throttle) reasons.

`nvidia-smi -q -d TEMPERATURE` prints, per GPU (`GPU 00000000:07:00.0`), either absolute limits
(`GPU Shutdown Temp : 92 C`, `GPU Slowdown Temp : 89 C`, `GPU Max Operating Temp : 85 C`) or, with newer
drivers, T.Limit values: `GPU T.Limit Temp : 48 C` is the headroom left below the GPU's T.Limit now, and
`GPU Slowdown T.Limit Temp : -2 C` (shutdown, max operating alike) the headroom at which that event
happens. Absolute limits are then current + headroom - threshold. Other fields read `N/A`.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional

GPU_HEADER = re.compile(r"^GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])\s*$")
FIELD = re.compile(r"^\s+([A-Za-z. ]+?)\s*:\s*(-?\d+) C\s*$")

# nvmlClocksEventReasons (formerly ClocksThrottleReasons), bit: (name, fails the burn-in).
REASONS = {
    0x1: ("gpu_idle", False),
    0x2: ("applications_clocks_setting", False),
    0x4: ("sw_power_cap", False),
    0x8: ("hw_slowdown", True),
    0x10: ("sync_boost", False),
    0x20: ("sw_thermal_slowdown", True),
    0x40: ("hw_thermal_slowdown", True),
    0x80: ("hw_power_brake_slowdown", True),
    0x100: ("display_clock_setting", False),
}


class Limits(object):
    """A GPU's temperature limits in degrees C (None: not reported)."""

    def __init__(self, max_operating: Optional[int], slowdown: Optional[int], shutdown: Optional[int], source: str) -> None:
        self.max_operating = max_operating
        self.slowdown = slowdown
        self.shutdown = shutdown
        self.source = source  # "absolute" or "tlimit"

    def as_dict(self) -> Dict[str, object]:
        return {"max_operating": self.max_operating, "slowdown": self.slowdown, "shutdown": self.shutdown, "source": self.source}


def _limits(fields: Dict[str, int]) -> Optional[Limits]:
    absolute = [fields.get("GPU Max Operating Temp"), fields.get("GPU Slowdown Temp"), fields.get("GPU Shutdown Temp")]
    if any(v is not None for v in absolute):
        return Limits(absolute[0], absolute[1], absolute[2], "absolute")
    current, headroom = fields.get("GPU Current Temp"), fields.get("GPU T.Limit Temp")
    if current is None or headroom is None:
        return None
    tlimit = current + headroom

    def at(name: str) -> Optional[int]:
        threshold = fields.get(name)
        return None if threshold is None else tlimit - threshold
    return Limits(at("GPU Max Operating T.Limit Temp"), at("GPU Slowdown T.Limit Temp"), at("GPU Shutdown T.Limit Temp"), "tlimit")


def parse_temperature_query(text: str) -> Dict[str, Optional[Limits]]:
    """{PCI bus ID (upper case, as printed): its limits, None when it prints none} of `nvidia-smi -q -d TEMPERATURE`."""
    found: Dict[str, Optional[Limits]] = {}
    bus: Optional[str] = None
    fields: Dict[str, int] = {}
    for line in text.splitlines():
        header = GPU_HEADER.match(line)
        if header:
            if bus is not None:
                found[bus] = _limits(fields)
            bus, fields = header.group(1).upper(), {}
            continue
        field = FIELD.match(line)
        if field and bus is not None:
            fields[field.group(1).strip()] = int(field.group(2))
    if bus is not None:
        found[bus] = _limits(fields)
    return found


def throttle_reasons(mask: int) -> List[str]:
    """The names of the reasons set in an NVML clock event mask (unknown bits as hex)."""
    names = [name for bit, (name, _fails) in sorted(REASONS.items()) if mask & bit]
    unknown = mask & ~sum(REASONS)
    if unknown:
        names.append("unknown_0x%x" % unknown)
    return names


def failing_reasons(mask: int) -> List[str]:
    """The reasons in `mask` that fail a burn-in: thermal slowdowns, hardware slowdown and power brake."""
    return [name for bit, (name, fails) in sorted(REASONS.items()) if fails and mask & bit]
