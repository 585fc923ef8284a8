# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpulab.dgx.gpu_burnin's options and the ranges they must fall in (checked before anything runs)."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

from ansible_collections.gpulab.dgx.plugins.module_utils.burnin.flow import Refused

ARGUMENT_SPEC = dict(
    image=dict(type="str", required=True),
    command=dict(type="list", elements="str", default=["gpu_burn", "{seconds}"]),
    seconds=dict(type="int", default=600),
    mode=dict(type="str", choices=["each", "all"], default="each"),
    gpus=dict(type="list", elements="int"),
    expected_gpus=dict(type="int"),
    sample_interval=dict(type="float", default=5.0),
    grace=dict(type="int", default=120),
    stop_margin=dict(type="int", default=2),
    temp_margin=dict(type="int", default=5),
    temp_cap=dict(type="int"),
    perf_tolerance=dict(type="float", default=10.0),
    dcgm_levels=dict(type="list", elements="int", default=[2]),
    dcgm_timeout=dict(type="int", default=1800),
    check_image=dict(type="str"),
    check_command=dict(type="list", elements="str", default=["/usr/local/bin/gpulab-check"]),
    check_timeout=dict(type="int", default=600),
    metrics_file=dict(type="path"),
    docker_host=dict(type="str"),
)

# option: (lowest, highest), inclusive.
RANGES = {
    "seconds": (10, 172800), "sample_interval": (1, 60), "grace": (0, 3600), "stop_margin": (0, 30),
    "temp_margin": (0, 30), "temp_cap": (40, 110), "perf_tolerance": (0, 100), "expected_gpus": (1, 256),
    "dcgm_timeout": (60, 86400), "check_timeout": (10, 7200),
}


def _in_range(name: str, value: Any) -> None:
    low, high = RANGES[name]
    if isinstance(value, float) and not math.isfinite(value):
        raise Refused(name, value, "must be a finite number from %s to %s" % (low, high))
    if not low <= value <= high:
        raise Refused(name, value, "must be from %s to %s" % (low, high))


def check_params(params: Dict[str, Any]) -> Dict[str, Any]:
    """The options, checked (Refused names the first bad one); returns them unchanged."""
    for name in RANGES:
        if params.get(name) is not None:
            _in_range(name, params[name])
    if not (params.get("image") or "").strip():
        raise Refused("image", params.get("image"), "must name the stress image")
    for name in ("command", "check_command"):
        value = params.get(name)
        if not value or not str(value[0]).strip():
            raise Refused(name, value, "must be a program and its arguments")
    gpus: Optional[list] = params.get("gpus")
    if gpus is not None:
        if any(i < 0 for i in gpus) or len(set(gpus)) != len(gpus):
            raise Refused("gpus", gpus, "must be distinct GPU indices (0 or more)")
    levels = params.get("dcgm_levels") or []
    if any(level not in (1, 2, 3, 4) for level in levels) or len(set(levels)) != len(levels):
        raise Refused("dcgm_levels", levels, "must be distinct levels from 1 to 4 (dcgmi diag -r)")
    path = params.get("metrics_file")
    if path is not None and (not path.startswith("/") or not path.endswith(".prom")):
        raise Refused("metrics_file", path, "must be an absolute path to a .prom file in node_exporter's textfile directory")
    return params
