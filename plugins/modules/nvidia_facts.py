#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: nvidia_facts
short_description: Read the NVIDIA driver version, its highest CUDA version, persistence mode and the visible GPUs
description:
  - Reads the state of the NVIDIA driver on the managed host from NVML (the C(pynvml) module of
    the C(nvidia-ml-py) package) or from C(nvidia-smi).
  - Never fails because the driver or GPUs are missing; it reports that in
    C(gpulab_nvidia.available), C(gpulab_nvidia.reason) and C(gpulab_nvidia.error) so a caller
    (the C(gpulab.dgx.preflight) role) can decide what is a hard requirement.
  - The CUDA version is the highest one the driver supports (the C(CUDA Version) in the
    C(nvidia-smi) header, or C(nvmlSystemGetCudaDriverVersion)), not an installed CUDA toolkit.
version_added: 0.1.0
author:
  - gpulab.dgx maintainers (@gpulab)
options:
  source:
    description:
      - Where to read from. V(auto) tries NVML first and falls back to C(nvidia-smi) when
        C(pynvml) is not installed on the host or NVML cannot start.
    type: str
    choices: [auto, nvml, nvidia-smi]
    default: auto
  nvidia_smi_path:
    description:
      - The C(nvidia-smi) executable. A bare name is looked up on the host's E(PATH) and in
        C(/usr/bin).
    type: str
    default: nvidia-smi
notes:
  - C(nvidia-smi) is run twice, once with C(--query-gpu ... --format=csv,noheader,nounits)
    and once plain for the header that carries the CUDA version.
seealso:
  - module: gpulab.dgx.gpu_info
extends_documentation_fragment:
  - gpulab.dgx.attributes.read_only
'''

EXAMPLES = r'''
- name: Read the NVIDIA driver state
  gpulab.dgx.nvidia_facts:

- name: Show the driver and CUDA versions
  ansible.builtin.debug:
    msg: "{{ gpulab_nvidia.driver_version }} / CUDA {{ gpulab_nvidia.cuda_version }}"
  when: gpulab_nvidia.available

- name: Read through a specific nvidia-smi only
  gpulab.dgx.nvidia_facts:
    source: nvidia-smi
    nvidia_smi_path: /usr/local/bin/nvidia-smi
'''

RETURN = r'''
ansible_facts:
  description: Facts set on the host.
  returned: always
  type: dict
  contains:
    gpulab_nvidia:
      description: The NVIDIA driver state.
      returned: always
      type: dict
      contains:
        available:
          description: Whether at least one GPU answered.
          type: bool
          sample: true
        source:
          description: What answered, V(nvml) or V(nvidia-smi) (the last one tried when nothing did).
          type: str
          sample: nvidia-smi
        reason:
          description:
            - Short code for why no GPU answered, V(null) when one did.
            - One of V(nvidia_smi_missing), V(driver_not_loaded), V(no_devices),
              V(version_mismatch), V(nvml_missing), V(parse), V(failed).
          type: str
          sample: driver_not_loaded
        error:
          description: Human-readable explanation of the reason.
          type: str
          sample: nvidia-smi was not found on the host
        driver_version:
          description: The driver version.
          type: str
          sample: "535.104.05"
        cuda_version:
          description: The highest CUDA version the driver supports.
          type: str
          sample: "12.2"
        gpu_count:
          description: Number of visible GPUs.
          type: int
          sample: 8
        persistence_mode_all:
          description: Whether persistence mode is on for every GPU (V(false) without GPUs).
          type: bool
          sample: true
        gpus:
          description: One entry per GPU, ordered by index.
          type: list
          elements: dict
          sample:
            - index: 0
              uuid: GPU-a75cda02-62ce-2c30-9150-555ef08935e2
              name: NVIDIA A100-SXM4-80GB
              pci_bus_id: "00000000:07:00.0"
              driver_version: "535.104.05"
              persistence_mode: true
              memory_total_mib: 81920
              mig_mode: false
'''

from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module
from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import (
    NvidiaSmiError,
    nvidia_smi_runner,
    read_nvidia_smi,
    read_nvml,
    unavailable,
)

try:
    import pynvml
    HAS_PYNVML = True
except ImportError:
    pynvml = None
    HAS_PYNVML = False


def _nvidia_smi_facts(module):
    try:
        return read_nvidia_smi(nvidia_smi_runner(module, module.params['nvidia_smi_path']))
    except NvidiaSmiError as exc:
        return unavailable(exc.reason, exc.message, 'nvidia-smi')


def main():
    module = new_module(
        argument_spec=dict(
            source=dict(type='str', default='auto', choices=['auto', 'nvml', 'nvidia-smi']),
            nvidia_smi_path=dict(type='str', default='nvidia-smi'),
        ),
        supports_check_mode=True,
    )
    source = module.params['source']
    facts = None
    if source in ('auto', 'nvml'):
        if HAS_PYNVML:
            try:
                facts = read_nvml(pynvml)
            except NvidiaSmiError as exc:
                facts = unavailable(exc.reason, exc.message, 'nvml')
        else:
            facts = unavailable('nvml_missing', 'the pynvml module (nvidia-ml-py) is not installed on the host', 'nvml')
    if source == 'nvidia-smi' or (source == 'auto' and not facts['available']):
        facts = _nvidia_smi_facts(module)
    module.exit_json(changed=False, ansible_facts={'gpulab_nvidia': facts})


if __name__ == '__main__':
    main()
