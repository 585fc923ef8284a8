#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: gpu_partition
short_description: Apply a MIG layout (nvidia-mig-parted's config format) to a host's GPUs
description:
  - Reads the GPUs (NVML, else C(nvidia-smi)), the tenant ledger (Docker labels) and the layout O(name) of
    O(config), then changes only the GPUs that differ from it, with C(nvidia-smi) (MIG mode, then GPU and
    compute instances).
  - Refuses, before any change, to touch a GPU that a tenant holds whole or by any of its MIG instances, and
    names the tenant. A GPU the layout does not name is left as it is.
  - When a step fails, every GPU this run changed is put back as it was (reported), then the task fails with
    what C(nvidia-smi) said.
  - MIG instances do not survive a reboot (MIG mode does), and come back with new UUIDs. After the layout is
    applied, each MIG tenant whose instances are gone is moved onto the instances now in the slots its
    container records (label C(gpulab.mig-slots), naming GPU, profile and rank on that GPU), its container made again
    from its own configuration (RV(remapped)). The role C(gpulab.dgx.gpu_partition) also installs a boot unit
    that does both without Ansible. See docs/gpu-sharing.md.
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
extends_documentation_fragment:
  - gpulab.dgx.docker
attributes:
  check_mode:
    support: full
    description: Reports the changes and the C(nvidia-smi) commands a real run would make; runs none of them.
  diff_mode:
    support: none
    description: The changes are returned in RV(changes) instead.
  idempotent:
    support: full
    description: GPUs already as the layout says are not touched; a second run changes nothing.
options:
  config:
    description:
      - The layouts, in nvidia-mig-parted's format (C(version) V(v1), C(mig-configs) mapping a name to a list of
        entries with C(devices) (V(all) or GPU indices), C(mig-enabled) and C(mig-devices) (profile to count)).
      - C(device-filter) is not supported; name GPUs by index.
    type: dict
    required: true
  name:
    description: The layout of O(config) to apply.
    type: str
    required: true
  nvidia_smi:
    description: The C(nvidia-smi) to run (a name on E(PATH) or an absolute path).
    type: str
    default: nvidia-smi
"""

EXAMPLES = r"""
- name: Split GPUs 6 and 7 into seven 1g.10gb instances each, keep the rest whole
  gpulab.dgx.gpu_partition:
    name: students
    config:
      version: v1
      mig-configs:
        students:
          - devices: [0, 1, 2, 3, 4, 5]
            mig-enabled: false
          - devices: [6, 7]
            mig-enabled: true
            mig-devices:
              "1g.10gb": 7
"""

RETURN = r"""
changes:
  description: The GPUs changed (in check mode, that would change), each with its state before and after and the commands.
  returned: always
  type: list
  elements: dict
  sample:
    - gpu: 6
      before: {mig_enabled: false, mig_devices: {}}
      after: {mig_enabled: true, mig_devices: {"1g.10gb": 7}}
      commands: ["nvidia-smi -i 6 -mig 1", "nvidia-smi mig -i 6 -cgi 1g.10gb,1g.10gb,1g.10gb,1g.10gb,1g.10gb,1g.10gb,1g.10gb -C"]
remapped:
  description: >-
    MIG tenants whose instances were created again since their container was made (after a reboot: new
    UUIDs) and that were moved onto the instances now in their slots (in check mode, that would be).
  returned: always
  type: list
  elements: dict
  sample:
    - tenant: alice
      before: [MIG-1f8c6f4e-0c2b-5a1e-9f0d-3c1e2a9b7d11]
      after: [MIG-7a2d9e10-4b5c-5d6e-8f90-1a2b3c4d5e6f]
gpus:
  description: Every GPU of the host as it is after the run (as it is now, in check mode), with its MIG instances.
  returned: always
  type: list
  elements: dict
  sample:
    - index: 6
      mig_mode: Enabled
      mig_instances: [{profile: 1g.10gb, gi: 7, ci: 0, uuid: MIG-..., memory_mib: 9856}]
"""

from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module, require_docker_sdk
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.run import run_partition


def main():
    module = new_module(
        argument_spec=dict(
            config=dict(type="dict", required=True),
            name=dict(type="str", required=True),
            nvidia_smi=dict(type="str", default="nvidia-smi"),
            docker_host=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    require_docker_sdk(module)
    module.exit_json(**run_partition(module))


if __name__ == "__main__":
    main()
