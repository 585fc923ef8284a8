# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Slurm's gres.conf and NodeName line for a host shared with tenants (plugins/plugin_utils/slurm/gres.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: slurm_gres
short_description: Slurm's gres.conf and NodeName line for the GPUs and cores no tenant holds
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Takes O(_input), the C(allocation) that M(gpulab.dgx.allocation_info) returns (or its whole registered
    result), and returns the host's C(gres.conf) and its C(NodeName) line for C(slurm.conf), leaving out every
    GPU, MIG instance and CPU a tenant holds.
  - "C(gres.conf) has one line per free GPU (C(Name=gpu Type=<type> File=<dev_dir>/nvidiaN Cores=<cores>)) and
    one per free MIG instance (C(MultipleFiles=) the GPU and the instance's two access devices); C(Cores=) are the
    GPU's NUMA-local cores no tenant holds, in Slurm's core numbering."
  - The C(NodeName) line gives the whole CPU layout, C(CpuSpecList=) the tenants' CPUs in Slurm's CPU numbering
    (Slurm runs no job there), C(RealMemory=) the host's memory less the tenants' limits and a reserve, and
    C(Gres=gpu:<type>:<count>) per type offered.
  - Fails, naming the option and the value, on input it cannot use.
options:
  _input:
    description: The allocation map (M(gpulab.dgx.allocation_info)'s C(allocation)).
    type: dict
    required: true
  node_name:
    description: Slurm's name of the node (its short host name).
    type: str
    required: true
  sockets:
    description: CPU sockets of the host (C(ansible_facts.processor_count)).
    type: int
    required: true
  memory_mb:
    description: The host's memory in MiB (C(ansible_facts.memtotal_mb)).
    type: int
    required: true
  reserved_memory_mb:
    description: MiB kept from Slurm beside the tenants' limits (the system, Docker).
    type: int
    default: 0
  dev_dir:
    description: Where the GPU device files are.
    type: str
    default: /dev
  caps_dir:
    description: Where the MIG access device files are.
    type: str
    default: /dev/nvidia-caps
  type_names:
    description: Slurm types by GPU model name; other models get their name lowercased, without C(NVIDIA ).
    type: dict
    default: {}
  mig_minors:
    description: The text of the host's C(/proc/driver/nvidia-caps/mig-minors); needed when a GPU is in MIG mode.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Read the allocation map of the host
  gpulab.dgx.allocation_info:
  register: alloc

- name: Write gres.conf
  ansible.builtin.copy:
    content: "{{ (alloc.allocation | gpulab.dgx.slurm_gres(node_name=ansible_facts.hostname, sockets=2, memory_mb=2048000)).gres_conf }}"
    dest: /etc/slurm/gres.conf
    mode: "0644"
"""

RETURN = r"""
_value:
  description: >-
    C(gres_conf) (text), C(node_line), C(gres) (each line offered - gpu, type, mig_uuid, cores), C(cpu_spec_list),
    C(held_gpus), C(real_memory_mb) and C(warnings).
  type: dict
"""

from typing import Any, Dict, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.gpulab.dgx.plugins.plugin_utils.slurm.gres import SlurmConfigError, slurm_config


def slurm_gres(allocation: Any, node_name: str, sockets: int, memory_mb: int, reserved_memory_mb: int = 0,
               dev_dir: str = "/dev", caps_dir: str = "/dev/nvidia-caps", type_names: Optional[Dict[str, str]] = None,
               mig_minors: str = "") -> Dict[str, Any]:
    try:
        return slurm_config(allocation, node_name, _int(sockets), _int(memory_mb), _int(reserved_memory_mb),
                            dev_dir, caps_dir, type_names or {}, mig_minors or "")
    except SlurmConfigError as exc:
        raise AnsibleFilterError("slurm_gres: %s" % exc)


def _int(value: Any) -> Any:
    """Jinja hands numbers from facts or -e as strings: "64" is 64, anything else goes to the checks as it is."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


class FilterModule(object):

    def filters(self):
        return {"slurm_gres": slurm_gres}
