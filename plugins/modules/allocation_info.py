#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: allocation_info
short_description: Read who holds which GPUs, CPU cores, memory and disk on a host, and what is free
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Reads the tenant ledger (the tenant containers' labels and HostConfig in Docker) and the host's
    topology once and returns the host's allocation map - every NUMA node with its CPUs, every GPU with
    its links and holder, every tenant with its GPUs, cpuset, limits and NUMA nodes, what is free on each
    NUMA node, and warnings.
  - Warns about a tenant whose CPUs lie on a NUMA node none of its GPUs is on, processes on a GPU from a
    container that does not hold it (read through NVML, as M(gpulab.dgx.tenant_metrics) reads them), a GPU
    or CPU held by two tenants, and a GPU the topology does not show.
  - The filters P(gpulab.dgx.allocation_svg#filter), P(gpulab.dgx.allocation_table#filter) and
    P(gpulab.dgx.allocation_index#filter) draw RV(allocation) on the controller; C(playbooks/report.yml)
    writes them for every host.
  - Read-only; never changes the host.
options:
  topology:
    description:
      - Host topology as M(gpulab.dgx.gpu_info) returns it. Default is to read the host as
        M(gpulab.dgx.tenant_metrics) does (GPUs through NVML, else nvidia-smi; CPUs and NUMA nodes from sysfs).
    type: dict
  nvml:
    description:
      - V(auto) reads the processes on each GPU through NVML (pynvml) when it is there, for the warnings
        about processes outside their tenant. V(never) leaves NVML alone (no such warnings; the topology is
        then read through nvidia-smi).
    type: str
    choices: [auto, never]
    default: auto
notes:
  - Run it on the GPU host itself, in the host's PID namespace (NVML reports host process IDs).
seealso:
  - module: gpulab.dgx.tenant_metrics
  - module: gpulab.dgx.gpu_info
extends_documentation_fragment:
  - gpulab.dgx.attributes.read_only
  - gpulab.dgx.docker
"""

EXAMPLES = r"""
- name: Read the allocation map of the host
  gpulab.dgx.allocation_info:
  register: alloc

- name: Write it as a picture on the controller
  ansible.builtin.copy:
    content: "{{ alloc.allocation | gpulab.dgx.allocation_svg(title=inventory_hostname) }}"
    dest: "/tmp/{{ inventory_hostname }}.svg"
    mode: "0644"
  delegate_to: localhost

- name: From a planning topology, without NVML
  gpulab.dgx.allocation_info:
    topology: "{{ gpulab_topology }}"
    nvml: never
  register: alloc
"""

RETURN = r"""
allocation:
  description: The host's allocation map (docs/report.md describes every field).
  returned: success
  type: dict
  contains:
    host:
      description: Host name, totals (GPUs and CPUs total, held, free; tenants; summed memory and disk limits).
      type: dict
      sample: {"hostname": "dgx01", "gpus": {"total": 8, "held": 3, "free": 5}, "cpus": {"total": 256, "held": 48, "free": 208}}
    numa_nodes:
      description: Each NUMA node with its CPUs, its cores (hyperthread siblings together), its GPUs and its free CPUs.
      type: list
      elements: dict
      sample: [{"id": 0, "cpuset": "0-15,128-143", "cores": [[0, 128]], "gpus": [], "free_cpuset": "0-15,128-143"}]
    gpus:
      description: Each GPU with index, UUID, model, NUMA node and the tenant holding it (null when free).
      type: list
      elements: dict
      sample: [{"index": 0, "uuid": "GPU-8e10...", "name": "NVIDIA A100-SXM4-40GB", "numa_node": 3, "tenant": "alice"}]
    links:
      description: The link between each pair of GPUs, as C(nvidia-smi topo -m) labels it, and its kind (nvlink, pcie, cpu).
      type: list
      elements: dict
      sample: [{"gpus": [0, 1], "label": "NV12", "kind": "nvlink"}]
    tenants:
      description: Each tenant with image, SSH port, GPUs, cpuset, memory and disk limits and NUMA nodes, by name.
      type: list
      elements: dict
      sample: [{"name": "alice", "ssh_port": 2201, "cpuset": "48-55,176-183", "memory_limit": "64G", "gpu_numa_nodes": [3]}]
    free:
      description: Free GPUs, and free GPUs and CPUs per NUMA node.
      type: dict
      sample: {"gpus": [2, 3], "cpus": 208, "by_numa": [{"numa_node": 1, "gpus": [2, 3], "cpus": 32, "cpuset": "16-31,144-159"}]}
    warnings:
      description: What looks wrong, each with C(kind), C(tenant), C(gpu) and C(message); also given as task warnings.
      type: list
      elements: dict
      sample: [{"kind": "numa_split", "tenant": "bob", "gpu": null, "message": "bob: CPUs 0-3 are on NUMA node 0, ..."}]
"""

import traceback


from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module, require_docker_sdk
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.refresh import MetricsError
from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import nvidia_smi_runner
from ansible_collections.gpulab.dgx.plugins.module_utils.report.read import NVML_CHOICES, read_report
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.host import read_host_topology


ARGUMENT_SPEC = dict(
    topology=dict(type="dict"),
    nvml=dict(type="str", choices=list(NVML_CHOICES), default="auto"),
    docker_host=dict(type="str"),
)


def main():
    module = new_module(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    require_docker_sdk(module)
    run = nvidia_smi_runner(module)
    try:
        report = read_report(module.params, lambda nvml: read_host_topology(require_gpus=False, run=run, nvml=nvml))
    except MetricsError as exc:
        module.fail_json(msg=str(exc), field=exc.field, value=exc.value)
    except Exception as exc:  # pylint: disable=broad-except
        # A defect, not an input problem: a failure that says so, with the details for a bug report.
        module.fail_json(msg="unexpected error while reading the allocation: %s: %s" % (type(exc).__name__, exc),
                         exception=traceback.format_exc())
    for found in report["warnings"]:
        module.warn(found["message"])
    module.exit_json(changed=False, allocation=report)


if __name__ == "__main__":
    main()
