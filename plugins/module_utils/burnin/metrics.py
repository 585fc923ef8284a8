# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The burn-in's result as node_exporter textfile series, with dcgm-exporter's `gpu` and `UUID` labels."""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.render import Family, render


def burnin_series(report: Dict[str, Any]) -> str:
    result = Family("gpulab_burnin_result", "gauge", "The last burn-in's verdict of a GPU: 1 passed, 0 failed or incomplete.")
    gflops = Family("gpulab_burnin_gflops", "gauge", "The GPU's median throughput in the last burn-in, in Gflop/s.")
    max_temp = Family("gpulab_burnin_max_temperature_celsius", "gauge", "The GPU's hottest reading in the last burn-in.")
    when = Family("gpulab_burnin_timestamp_seconds", "gauge", "When the last burn-in started, in seconds since the epoch.")
    for gpu in report["gpus"]:
        labels = dict(gpu=str(gpu["index"]), UUID=gpu["uuid"])
        result.add(1 if gpu["verdict"] == "pass" else 0, **labels)
        if gpu.get("gflops"):
            gflops.add(gpu["gflops"], **labels)
        if gpu.get("max_temp") is not None:
            max_temp.add(gpu["max_temp"], **labels)
    when.add(int(report["started"]))
    return render([result, gflops, max_temp, when])
