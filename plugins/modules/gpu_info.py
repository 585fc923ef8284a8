#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gpu_info
short_description: Read the GPU, NVLink and NUMA topology of a host, or of pasted text
version_added: "0.1.0"
description:
  - Without options, reads the managed host. GPUs (index, UUID, PCI bus id, name, memory, MIG
    mode) and the link between each pair of GPUs through NVML (the C(pynvml) module of the
    C(nvidia-ml-py) package), or, when pynvml is missing or NVML cannot start, through
    C(nvidia-smi --query-gpu) and C(nvidia-smi topo -m); RV(topology.source) says which. NUMA
    nodes with their CPU lists and distances, each GPU's NUMA node, hyperthread siblings, and the
    CPUs this process may use from sysfs.
  - On NVSwitch systems every GPU on the fabric counts as NVLink-linked to every other.
  - On Grace systems (GH200/GB200) a GPU's own NUMA node holds only memory; the GPU is reported
    on the node of the CPUs next to it.
  - With O(topo_matrix) it reads the text of C(nvidia-smi topo -m) instead (any real variant -
    tabs or spaces, NIC columns, N/A, legacy SOC), for planning offline. O(lscpu) and
    O(numactl) add full NUMA CPU lists, siblings and distances.
  - A matrix taken inside a restricted cpuset (a container, Slurm job or systemd slice) shows
    an empty or narrowed CPU Affinity; each GPU is then put on the node its NUMA Affinity names,
    with the node's CPUs from O(lscpu)/O(numactl) when given, and the module warns.
  - Read-only; never changes the host.
author:
  - gpulab.dgx maintainers (@gpulab)
options:
  topo_matrix:
    description:
      - Output of C(nvidia-smi topo -m). Prompt, comment and C(nvidia-smi -L) lines around the
        table are ignored (C(-L) lines fill in GPU names and UUIDs).
      - When set, the host is not read.
    type: str
  lscpu:
    description:
      - Output of C(lscpu), C(lscpu -p) or C(lscpu -e) from the same host; used only with
        O(topo_matrix). Gives NUMA node CPU lists and, from C(-p)/C(-e), exact hyperthread siblings.
    type: str
  numactl:
    description:
      - Output of C(numactl -H) from the same host; used only with O(topo_matrix). Gives NUMA
        node CPU lists and distances.
    type: str
requirements:
  - On the managed host, without O(topo_matrix) - the NVIDIA driver, with its C(nvidia-smi) or
    the Python package C(nvidia-ml-py).
notes:
  - Without an NVIDIA driver on the host (and no O(topo_matrix)) the module fails and says so.
  - A host that shows NVIDIA GPUs (C(/dev/nvidia*), C(/proc/driver/nvidia/gpus), NVIDIA PCI display
    devices) or a loaded driver, but that neither NVML nor nvidia-smi can read, fails with both
    causes (pynvml missing, NVML's error, nvidia-smi's own message).
  - Link labels are those of C(nvidia-smi topo -m) (V(NV#), V(PIX), V(PXB), V(PHB), V(NODE),
    V(SYS)); the legacy V(SOC) is read as V(SYS).
  - Fields a source cannot know (UUID, PCI bus id, memory, MIG mode from text) are null.
seealso:
  - module: gpulab.dgx.gpu_placement
extends_documentation_fragment:
  - gpulab.dgx.attributes.read_only
"""

EXAMPLES = r"""
- name: Read the GPU topology of the host
  gpulab.dgx.gpu_info:
  register: gpu

- name: Plan offline from pasted text
  gpulab.dgx.gpu_info:
    topo_matrix: "{{ lookup('ansible.builtin.file', 'dgx-a100-topo.txt') }}"
    lscpu: "{{ lookup('ansible.builtin.file', 'dgx-a100-lscpu.txt') }}"
  delegate_to: localhost
  register: planned

- name: Show which NUMA node each GPU sits on
  ansible.builtin.debug:
    msg: "{{ gpu.topology.gpus | items2dict(key_name='index', value_name='numa_node') }}"
"""

RETURN = r"""
topology:
  description: The topology dict that M(gpulab.dgx.gpu_placement) accepts.
  returned: success
  type: dict
  contains:
    gpus:
      description:
        - One entry per GPU, by index.
        - A GPU whose MIG mode is on also has C(mig_instances), its MIG devices (profile, GPU and compute instance IDs,
          MIG UUID, memory); read from C(nvidia-smi -L), the IDs and memory are null. See docs/gpu-sharing.md.
      type: list
      elements: dict
      sample:
        - index: 0
          uuid: GPU-8e100991-ce97-6694-b8eb-b8b1ff5053af
          pci_bus_id: "00000000:07:00.0"
          name: NVIDIA A100-SXM4-80GB
          numa_node: 3
          cpus: [48, 49, 50]
          memory_mib: 81920
          mig_mode: Disabled
        - index: 1
          uuid: GPU-938c4705-98bf-1735-e98b-c2a5872a8022
          pci_bus_id: "00000000:0F:00.0"
          name: NVIDIA A100-SXM4-80GB
          numa_node: 3
          cpus: [48, 49, 50]
          memory_mib: 81920
          mig_mode: Enabled
          mig_instances:
            - {profile: 3g.40gb, gi: 1, ci: 0, uuid: MIG-51872ee5-5410-564e-abd2-27382756d2d4, memory_mib: 40192}
    links:
      description: Link label for each GPU pair, keyed C(i,j) with i < j.
      type: dict
      sample: {"0,1": NV12, "0,2": NV12}
    numa_nodes:
      description: NUMA nodes keyed by id, with their CPUs and distances to each node.
      type: dict
      sample: {"0": {"cpus": [0, 1, 2, 3], "distance": {"0": 10, "1": 32}}}
    siblings:
      description: Hyperthreads sharing one physical core.
      type: list
      elements: list
      sample: [[0, 128], [1, 129]]
    cpus_allowed:
      description: CPUs this process may use (host reads only); CPU lists above are limited to them.
      type: list
      elements: int
      returned: when the host was read
      sample: [0, 1, 2, 3]
    source:
      description: How the GPUs were read, V(nvml) or V(nvidia-smi).
      type: str
      returned: when the host was read
      sample: nvidia-smi
    warnings:
      description:
        - What the text reader doubts, also given as task warnings. A matrix taken inside a
          restricted cpuset (empty or narrowed CPU Affinity) is read by its NUMA Affinity column.
      type: list
      elements: str
      returned: when O(topo_matrix) shows something to warn about
      sample: ["nvidia-smi topo -m was taken inside a restricted cpuset: GPU 2-7 CPU Affinity empty; ..."]
"""


from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module
from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import nvidia_smi_runner
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.host import read_host_topology
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.text import parse_topology_text


def main():
    module = new_module(
        argument_spec=dict(
            topo_matrix=dict(type="str"),
            lscpu=dict(type="str"),
            numactl=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["topo_matrix"] is not None:
            topology = parse_topology_text(params["topo_matrix"], lscpu=params["lscpu"], numactl=params["numactl"])
        else:
            if params["lscpu"] or params["numactl"]:
                module.fail_json(msg="lscpu and numactl are read only together with topo_matrix")
            topology = read_host_topology(run=nvidia_smi_runner(module))
    except TopologyError as exc:
        module.fail_json(msg=str(exc))
    for warning in topology.get("warnings", []):
        module.warn(warning)
    module.exit_json(changed=False, topology=topology)


if __name__ == "__main__":
    main()
