#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gpu_placement
short_description: Choose GPUs and CPU cores for one tenant, NUMA- and NVLink-aware
version_added: "0.1.0"
description:
  - Given a topology (from M(gpulab.dgx.gpu_info)) and what other tenants already use, picks
    O(gpus) free GPUs and O(cpus) free logical CPUs for one tenant.
  - Hard constraints first - free GPUs only, exactly O(gpus) of them, O(cpus) CPUs no other
    tenant uses, whole physical cores before lone hyperthreads.
  - Then, among the feasible GPU sets, it prefers the best weakest link (NV# > PIX > PXB > PHB >
    NODE > SYS), the fewest NUMA nodes, the highest sum of pair scores, the set that leaves the
    remaining free GPUs best grouped, and the lowest indices. Deterministic.
  - CPUs come from the chosen GPUs' NUMA nodes. With no GPUs they come from the one NUMA node with
    the most free whole cores.
  - Warnings the topology carries (RV(gpulab.dgx.gpu_info#module:topology.warnings), e.g. a
    matrix taken inside a restricted cpuset) are repeated as task warnings.
  - Read-only; it computes an answer and changes nothing.
author:
  - gpulab.dgx maintainers (@gpulab)
options:
  topology:
    description: The RV(gpulab.dgx.gpu_info#module:topology) dict.
    type: dict
    required: true
  gpus:
    description: Number of GPUs the tenant gets.
    type: int
    default: 0
  cpus:
    description:
      - Number of logical CPUs the tenant gets. On a 2-thread box V(32) is 16 whole cores.
    type: int
    default: 0
  used_gpus:
    description: Indices of GPUs other tenants hold.
    type: list
    elements: int
    default: []
  used_cpus:
    description: CPU ids other tenants hold.
    type: list
    elements: int
    default: []
  numa_policy:
    description:
      - V(strict) fails with a message when the CPUs cannot all come from the GPUs' NUMA nodes
        (or, without GPUs, from one node).
      - V(best-effort) then takes the rest from the nearest nodes by NUMA distance and says so in
        RV(placement.notes).
    type: str
    choices: [strict, best-effort]
    default: strict
seealso:
  - module: gpulab.dgx.gpu_info
extends_documentation_fragment:
  - gpulab.dgx.attributes.read_only
"""

EXAMPLES = r"""
- name: Read the host
  gpulab.dgx.gpu_info:
  register: gpu

- name: Two GPUs and 32 CPUs for a tenant, next to what is already handed out
  gpulab.dgx.gpu_placement:
    topology: "{{ gpu.topology }}"
    gpus: 2
    cpus: 32
    used_gpus: [0, 1]
    used_cpus: "{{ range(48, 64) | list + range(176, 192) | list }}"
  register: slot

- name: Start the tenant with it
  ansible.builtin.debug:
    msg: >-
      docker run --gpus '"device={{ slot.placement.gpus | join(',') }}"'
      --cpuset-cpus {{ slot.placement.cpuset }} ...

- name: A CPU-only tenant that may spill over NUMA nodes
  gpulab.dgx.gpu_placement:
    topology: "{{ gpu.topology }}"
    cpus: 96
    numa_policy: best-effort
"""

RETURN = r"""
placement:
  description: What the tenant gets.
  returned: success
  type: dict
  contains:
    gpus:
      description: GPU indices, ascending.
      type: list
      elements: int
      sample: [2, 3]
    cpus:
      description: Logical CPU ids, ascending.
      type: list
      elements: int
      sample: [16, 17, 144, 145]
    cpuset:
      description: The CPUs in Docker's canonical C(--cpuset-cpus) form.
      type: str
      sample: 16-31,144-159
    numa_nodes:
      description: NUMA nodes the GPUs and CPUs sit on.
      type: list
      elements: int
      sample: [1]
    numa_local:
      description: Whether every CPU is on a NUMA node of the chosen GPUs (or, without GPUs, on one node).
      type: bool
      sample: true
    score:
      description:
        - How the choice ranks - the weakest link label and score, pair score sum, number of
          NUMA nodes, how grouped the remaining free GPUs stay, whole cores and lone threads
          given, CPUs spilled off the GPUs' nodes.
      type: dict
      sample:
        weakest_link: NV12
        weakest_link_score: 112
        pair_score_sum: 112
        numa_node_count: 1
        remaining_gpu_numa_nodes: 3
        remaining_pair_score_sum: 1680
        whole_cores: 16
        lone_threads: 0
        spilled_cpus: 0
    notes:
      description: Things the caller should know, such as CPUs spilled under best-effort.
      type: list
      elements: str
      sample: []
"""


from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.placement import PlacementError, place


def main():
    module = new_module(
        argument_spec=dict(
            topology=dict(type="dict", required=True),
            gpus=dict(type="int", default=0),
            cpus=dict(type="int", default=0),
            used_gpus=dict(type="list", elements="int", default=[]),
            used_cpus=dict(type="list", elements="int", default=[]),
            numa_policy=dict(type="str", choices=["strict", "best-effort"], default="strict"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        placement = place(params["topology"], params["gpus"], params["cpus"],
                          used_gpus=params["used_gpus"], used_cpus=params["used_cpus"],
                          numa_policy=params["numa_policy"])
    except PlacementError as exc:
        module.fail_json(msg=str(exc))
    for warning in params["topology"].get("warnings") or []:
        module.warn(warning)
    module.exit_json(changed=False, placement=placement)


if __name__ == "__main__":
    main()
