# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One look at the host for gpulab.dgx.allocation_info: the topology (given, or read from the host
as gpulab.dgx.tenant_metrics reads it), the ledger and the GPUs' processes through the metrics
snapshot (read once), and the allocation map built from them. Every failure is a MetricsError
naming the option at fault (`field`, `value`)."""

from __future__ import annotations

import socket
from typing import Any, Callable, Dict, Optional

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.cgroup import CgroupReader
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.collect import collect
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.refresh import (
    DOCKER_ERRORS, MetricsError, NvmlOff, connect_docker, gpu_reader, topology_of)
from ansible_collections.gpulab.dgx.plugins.module_utils.report.model import build_report

NVML_CHOICES = ("auto", "never")


def read_report(params: Dict[str, Any], read_topology: Callable[[Any], Dict[str, Any]], nvml: Any = None,
                cgroups: Optional[CgroupReader] = None) -> Dict[str, Any]:
    """The allocation map of the host now. `params`: the module's options; read_topology(nvml) reads
    the host's topology; `nvml`: pynvml or a stand-in (None: import it when needed)."""
    if params["nvml"] == "never":
        nvml = NvmlOff()
    topology = topology_of(params.get("topology"), read_topology, nvml)
    base_url, client = connect_docker(params.get("docker_host"))
    try:
        # Sizes of the writable layers are use, not allocation: not read (Docker sums every file for them).
        snapshot = collect(client, topology, gpu_reader(nvml), cgroups or CgroupReader(), disk_usage=False)
    except DOCKER_ERRORS as exc:
        raise MetricsError("docker_host", base_url, "answered: %s" % exc)
    finally:
        client.close()
    return build_report(topology, snapshot, socket.gethostname())
