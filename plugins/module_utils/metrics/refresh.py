# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One refresh of the metrics file, as gpulab.dgx.tenant_metrics runs it: check the path, take the
topology (given, or read from the host as gpulab.dgx.tenant does), look at the host once, render,
write only when the bytes differ; with a job mapping directory, keep dcgm-exporter's job mapping
files there in step. Every failure is a MetricsError naming the option at fault."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Type

try:
    from docker.errors import DockerException
    DOCKER_ERRORS: Tuple[Type[BaseException], ...] = (DockerException,)
except ImportError:  # the module reports a missing Docker SDK before it gets here
    DOCKER_ERRORS = ()

from ansible_collections.gpulab.dgx.plugins.module_utils.docker.client import DockerUnreachable, connect, resolve_host
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.cgroup import CgroupReader
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.collect import collect
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.gpu import GpuReading, read_gpu_use
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.jobmap import JobMapRefused, check_job_dir, job_map, sync_job_map
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.render import render
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.series import families
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.tenantfs import TenantFiles
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.write import PathRefused, check_target, would_change, write_atomic
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError, check_topology

NVML_CHOICES = ("auto", "never")


class MetricsError(Exception):
    """A refresh that cannot be done; `field` and `value` name the option at fault."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super(MetricsError, self).__init__("%s: %r %s" % (field, value, reason))
        self.field = field
        self.value = value


class NvmlOff(object):
    """Stands in for pynvml under `nvml: never`: NVML does not start, so no reader uses it."""

    class NVMLError(Exception):
        """NVML is not to be used."""

    def nvmlInit(self) -> None:  # pylint: disable=invalid-name
        raise self.NVMLError("not used (nvml: never)")


def topology_of(given: Optional[Dict[str, Any]], read: Callable[[Any], Dict[str, Any]], nvml: Any) -> Dict[str, Any]:
    """The topology, given or read from the host (`read(nvml)`), checked."""
    try:
        return check_topology(given if given is not None else read(nvml))
    except TopologyError as exc:
        raise MetricsError("topology", "<given>" if given is not None else "<read from the host>", "is not usable: %s" % exc)


def gpu_reader(nvml: Any) -> Callable[[], GpuReading]:
    """What reads the GPUs' processes: NVML, or nothing under `nvml: never`."""
    if isinstance(nvml, NvmlOff):
        return lambda: GpuReading([], False, "not read (nvml: never)")
    return lambda: read_gpu_use(nvml)


def connect_docker(docker_host: Optional[str]) -> Tuple[str, Any]:
    """(base URL, client) of the Docker daemon named by the `docker_host` option."""
    base_url = resolve_host(docker_host)
    try:
        return base_url, connect(base_url, timeout=60)
    except DockerUnreachable as exc:
        raise MetricsError("docker_host", base_url, "cannot be reached: %s" % exc.reason)


def render_snapshot(client: Any, topology: Dict[str, Any], nvml: Any, disk_usage: bool,
                    cgroups: Optional[CgroupReader] = None, files: Optional[TenantFiles] = None) -> Tuple[str, Any]:
    """(exposition text, snapshot) of the host now (cgroups, data quota use and last logins under /proc)."""
    snapshot = collect(client, topology, gpu_reader(nvml), cgroups or CgroupReader(), disk_usage, files or TenantFiles())
    return render(families(snapshot)), snapshot


def refresh(params: Dict[str, Any], check_mode: bool, read_topology: Callable[[Any], Dict[str, Any]],
            nvml: Any = None) -> Dict[str, Any]:
    """Bring the metrics file up to date (in check mode, say whether it would change). `params` are the
    module's options; read_topology(nvml) reads the host's topology; `nvml`: pynvml or a stand-in (None: import it)."""
    try:
        target = check_target(params["path"])
    except PathRefused as exc:
        raise MetricsError("path", params["path"], str(exc))
    job_dir = params.get("job_mapping_dir") or None
    if job_dir is not None:
        try:
            job_dir = check_job_dir(job_dir)
        except JobMapRefused as exc:
            raise MetricsError("job_mapping_dir", params["job_mapping_dir"], str(exc))
    if params["nvml"] == "never":
        nvml = NvmlOff()
    topology = topology_of(params.get("topology"), read_topology, nvml)
    base_url, client = connect_docker(params.get("docker_host"))
    try:
        text, snapshot = render_snapshot(client, topology, nvml, params["disk_usage"])
    except DOCKER_ERRORS as exc:
        raise MetricsError("docker_host", base_url, "answered: %s" % exc)
    finally:
        client.close()
    data = text.encode("utf-8")
    try:
        changed = would_change(target, data) if check_mode else write_atomic(target, data)
    except OSError as exc:
        raise MetricsError("path", params["path"], "could not be written: %s" % (exc.strerror or exc))
    extra: Dict[str, Any] = {}
    if job_dir is not None:
        held = job_map((view.name, [gpu.index for gpu in view.gpus]) for view in snapshot.tenants)
        try:
            changed = sync_job_map(job_dir, held, check_mode) or changed
        except OSError as exc:
            raise MetricsError("job_mapping_dir", params["job_mapping_dir"], "could not be kept: %s" % (exc.strerror or exc))
        extra["job_mapping"] = held
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    return dict(changed=changed, file=target, tenants=len(snapshot.tenants), series=series,
                gpu_use=snapshot.gpu_status, bytes=len(data), **extra)
