#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_metrics
short_description: Write every tenant's allocation and use as Prometheus metrics for node_exporter's textfile collector
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Reads the tenant ledger (the tenant containers' labels and HostConfig in Docker) once, each running
    tenant's cgroup (CPU time, memory in use), the tenants' writable layer sizes, and the processes on
    each GPU through NVML, and writes them as C(gpulab_*) series in the Prometheus text format to O(path).
  - Per-GPU series carry dcgm-exporter's C(gpu) (index) and C(UUID) labels and the C(tenant) label, so
    dashboards join them with DCGM's series. docs/metrics.md describes every series.
  - A GPU process is mapped to its tenant through its C(/proc/<pid>/cgroup) (cgroup v1 and v2, Docker's
    cgroupfs and systemd drivers).
  - The file is written atomically (a temporary file in the same directory, fsync, rename, fsync of the
    directory) with mode 0644, and not at all when it already holds the same bytes (its mtime stays).
  - Without pynvml or a working NVML there are no GPU use series; that is not a failure (RV(gpu_use) says why).
options:
  path:
    description:
      - The metrics file. Its directory must exist (node_exporter's C(--collector.textfile.directory);
        Debian's C(prometheus-node-exporter) reads C(/var/lib/prometheus/node-exporter)).
      - An absolute path whose file name is C(<name>.prom) (letters, digits, C(_), C(.), C(-)), outside
        C(/proc), C(/sys) and C(/dev). An existing file there must be a regular file; a symlink is refused,
        never followed.
    type: path
    default: /var/lib/prometheus/node-exporter/gpulab.prom
  topology:
    description:
      - Host topology as gpulab.dgx.gpu_info returns it; it gives each GPU's index, UUID and NUMA node and
        each CPU's NUMA node. Default is to read the host as gpulab.dgx.tenant does (GPUs through NVML, else
        nvidia-smi; CPUs and NUMA nodes from sysfs).
    type: dict
  nvml:
    description:
      - V(auto) reads the processes on each GPU through NVML (pynvml) when it is there.
        V(never) leaves NVML alone (no GPU use series; the topology is then read through nvidia-smi).
    type: str
    choices: [auto, never]
    default: auto
  disk_usage:
    description:
      - Report each tenant's writable layer size (Docker's C(SizeRw)) as C(gpulab_tenant_disk_used_bytes{mount="/"}).
      - Docker sums the layer's files for this on every refresh; turn it off when tenants keep many files in
        their root filesystem and the refresh gets slow.
    type: bool
    default: true
  job_mapping_dir:
    description:
      - A directory for dcgm-exporter's job mapping (its C(--hpc-job-mapping-dir)). It gets one file per
        GPU a tenant holds, named by the GPU's index, holding the tenant's name, so dcgm-exporter puts
        C(hpc_job="<tenant>") on that GPU's series. Files of GPUs no tenant holds are removed.
      - Only files named by a plain GPU index (C(0), C(1), ...) are written or removed; anything else
        in the directory is left alone. A directory named by an index is refused; a symlink is replaced,
        never followed.
      - An absolute path of an existing directory other than C(/), outside C(/proc), C(/sys) and C(/dev).
        Unset or empty keeps no job mapping.
    type: path
attributes:
  check_mode:
    support: full
    description: Reads the host, reports whether the file would change, writes nothing.
  diff_mode:
    support: none
    description: The file is metrics text that changes with use; no diff is shown.
  idempotent:
    support: full
    description: When nothing the file shows changed, the file is left as it is and C(changed) is false.
notes:
  - Run it on the GPU host itself, in the host's PID namespace (NVML reports host process IDs).
  - Usage values (CPU seconds, memory, GPU memory) move while tenants run, so a refresh of a busy host
    usually changes the file; a host whose tenants are idle or paused gives the same bytes again.
seealso:
  - module: gpulab.dgx.tenant
  - module: gpulab.dgx.tenants
extends_documentation_fragment:
  - gpulab.dgx.docker
"""

EXAMPLES = r"""
- name: Refresh the tenants' metrics for node_exporter's textfile collector
  gpulab.dgx.tenant_metrics:
    path: /var/lib/prometheus/node-exporter/gpulab.prom

- name: Metrics from a planning topology, without NVML and without layer sizes
  gpulab.dgx.tenant_metrics:
    path: /srv/metrics/gpulab.prom
    topology: "{{ gpulab_topology }}"
    nvml: never
    disk_usage: false

- name: Metrics, and dcgm-exporter's job mapping (hpc_job="<tenant>" on DCGM's series)
  gpulab.dgx.tenant_metrics:
    job_mapping_dir: /var/lib/gpulab/job-mapping
"""

RETURN = r"""
file:
  description: The metrics file, its directory resolved.
  returned: success
  type: str
  sample: /var/lib/prometheus/node-exporter/gpulab.prom
tenants:
  description: How many tenants the file shows.
  returned: success
  type: int
  sample: 3
series:
  description: How many samples (series) the file holds.
  returned: success
  type: int
  sample: 52
bytes:
  description: The size of the file's text in bytes.
  returned: success
  type: int
  sample: 4096
gpu_use:
  description: Whether NVML's per-process lists were read (C(read N GPUs)) or why not (C(unavailable, ...)).
  returned: success
  type: str
  sample: "unavailable: pynvml is not installed for /usr/bin/python3 (No module named 'pynvml')"
job_mapping:
  description: The job mapping kept in O(job_mapping_dir), the tenants holding each GPU by index.
  returned: when O(job_mapping_dir) is set
  type: dict
  sample: {"0": ["alice"], "1": ["alice"], "5": ["bob"]}
"""

import traceback


from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module, require_docker_sdk
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.refresh import NVML_CHOICES, MetricsError, refresh
from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import nvidia_smi_runner
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.host import read_host_topology


ARGUMENT_SPEC = dict(
    path=dict(type="path", default="/var/lib/prometheus/node-exporter/gpulab.prom"),
    topology=dict(type="dict"),
    nvml=dict(type="str", choices=list(NVML_CHOICES), default="auto"),
    disk_usage=dict(type="bool", default=True),
    job_mapping_dir=dict(type="path"),
    docker_host=dict(type="str"),
)


def main():
    module = new_module(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    require_docker_sdk(module)
    run = nvidia_smi_runner(module)
    try:
        result = refresh(module.params, module.check_mode,
                         lambda nvml: read_host_topology(require_gpus=False, run=run, nvml=nvml))
    except MetricsError as exc:
        module.fail_json(msg=str(exc), field=exc.field, value=exc.value)
    except Exception as exc:  # pylint: disable=broad-except
        # A defect, not an input problem: a failure that says so, with the details for a bug report.
        module.fail_json(msg="unexpected error while refreshing %s: %s: %s" % (module.params["path"], type(exc).__name__, exc),
                         exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
