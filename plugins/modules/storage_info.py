#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: storage_info
short_description: Read what block devices hold, an md array's members and a mount point, in one run
version_added: "0.1.0"
description:
  - Reads, in one module run, what the P(gpulab.dgx.docker_storage#role) role needs before it builds an
    array or formats a filesystem - so a slow host pays for one module run instead of one per tool
    and device.
  - For each of O(devices) (array members) - whether it exists and is a block device (following
    links), its kernel name, its signatures (C(blkid -p -o export)), its partitions and mount
    points (C(lsblk --json)) and a description of what it holds.
  - For O(device) - whether it exists and is a block device, its C(MAJ:MIN), the md array on it
    (C(mdadm --detail --export), when mdadm is installed) and, with O(probe_device), its
    signatures, partitions, mount points (C(findmnt --source)), the xfs C(ftype) (C(xfs_info),
    only for xfs and when installed), a description of what it holds and whether it can be used
    as it is.
  - For O(mount_point) - what is mounted there (C(findmnt --mountpoint)).
  - Read-only; never changes the host and always reports C(changed=false).
author:
  - gpulab.dgx maintainers (@gpulab)
options:
  devices:
    description:
      - Array members to inspect, as given (C(/dev/disk/by-id) links and the like are followed).
      - A path that does not exist or is not a block device is reported, not probed.
    type: list
    elements: path
    default: []
  device:
    description:
      - The filesystem device (an md array, a disk, a partition). Also the md array read with
        C(mdadm --detail).
    type: path
  probe_device:
    description:
      - Probe O(device) for signatures, partitions, mounts and the xfs geometry.
      - With V(false) only its existence, type, numbers and md state are read (the role does this
        for an array it has just created, whose stale member data must not count).
    type: bool
    default: true
  mount_point:
    description:
      - A directory; the module reads what is mounted on it.
    type: path
requirements:
  - util-linux (C(blkid), C(lsblk), C(findmnt)) on the managed host; C(mdadm) and C(xfs_info)
    are used when installed.
notes:
  - C(blkid -p) exiting 2 (no signature) is a blank device; any other failure of C(blkid) or
    C(lsblk) on a block device fails the module. A missing C(mdadm) or a non-zero exit of
    C(mdadm --detail) means no active array.
  - The descriptions in the C(found) lists of RV(members) and RV(device) are the words of the
    role's refusal messages.
extends_documentation_fragment:
  - gpulab.dgx.attributes.read_only
"""

EXAMPLES = r"""
- name: Read the members of a 4-drive array and the md device
  gpulab.dgx.storage_info:
    devices:
      - /dev/nvme0n1
      - /dev/nvme1n1
      - /dev/nvme2n1
      - /dev/nvme3n1
    device: /dev/md1
    probe_device: false
  register: members

- name: Name the members that hold something
  ansible.builtin.debug:
    msg: "{{ members.members | dict2items | selectattr('value.found') | items2dict }}"

- name: Read a filesystem device and what is mounted at /raid
  gpulab.dgx.storage_info:
    device: /dev/md1
    mount_point: /raid
  register: storage

- name: Stop unless the device already holds xfs with ftype=1
  ansible.builtin.assert:
    that: storage.device.ready
    fail_msg: "/dev/md1 holds {{ storage.device.found | join(', ') }}"
"""

RETURN = r"""
members:
  description:
    - One entry per path in O(devices), keyed by the path as given.
    - C(exists) and C(is_block) follow links; only block devices are probed, the other fields are
      empty for the rest.
    - C(real) is the kernel name (links resolved), empty when the path does not exist.
    - C(signature) holds the C(KEY=VALUE) pairs of C(blkid -p -o export) (empty for a blank
      device); C(type) and C(uuid) are its C(TYPE) and C(UUID) (for an md member, the array's), or empty.
    - C(children) are the paths of the direct children (partitions, md arrays) lsblk lists.
    - C(found) says what the device holds, e.g. C(linux_raid_member (array UUID X)),
      C(ext4 filesystem), C(gpt partition table), C(partition /dev/sdb1 (ext4)), C(mounted at /mnt);
      empty when blank.
    - C(mounted) says whether the device or one of its direct children is mounted.
  returned: success
  type: dict
  sample:
    /dev/disk/by-id/nvme-A:
      exists: true
      is_block: true
      real: /dev/nvme0n1
      signature: {TYPE: ext4, UUID: a39a84bf-d123-4665-b01d-31ab83ade172, USAGE: filesystem}
      type: ext4
      uuid: a39a84bf-d123-4665-b01d-31ab83ade172
      children: []
      found: [ext4 filesystem, mounted at /mnt]
      mounted: true
md:
  description: The md array on O(device).
  returned: when O(device) is set
  type: dict
  sample: {active: true, members: [/dev/nvme0n1, /dev/nvme1n1], detail: {MD_LEVEL: raid0, MD_DEVICES: "2"}}
  contains:
    active:
      description: Whether C(mdadm --detail) reads an array on O(device) (false without mdadm).
      type: bool
    members:
      description: The member devices mdadm reports (C(MD_DEVICE_*_DEV)).
      type: list
      elements: str
    detail:
      description: All C(KEY=VALUE) pairs of C(mdadm --detail --export).
      type: dict
device:
  description: The filesystem device.
  returned: when O(device) is set
  type: dict
  sample:
    exists: true
    is_block: true
    real: /dev/md1
    majmin: "9:1"
    probed: true
    signature: {TYPE: xfs, UUID: db0ffbe3-c8a7-4544-9470-99977504fd61, USAGE: filesystem}
    children: []
    mounts: [/raid]
    ftype: 1
    found: [xfs filesystem with ftype=1 (UUID db0ffbe3-c8a7-4544-9470-99977504fd61)]
    ready: true
  contains:
    exists:
      description: Whether the path exists (following links).
      type: bool
    is_block:
      description: Whether it is a block device.
      type: bool
    real:
      description: The kernel name; empty when it does not exist.
      type: str
    majmin:
      description: C(MAJ:MIN) from lsblk; empty when it is not a block device.
      type: str
    probed:
      description: Whether the contents were read (O(probe_device) and a block device); the fields below are empty otherwise.
      type: bool
    signature:
      description: The C(KEY=VALUE) pairs of C(blkid -p -o export).
      type: dict
    children:
      description: Paths of the direct children (partitions) lsblk lists.
      type: list
      elements: str
    mounts:
      description: Where the device is mounted (C(findmnt --source)).
      type: list
      elements: str
    ftype:
      description: The xfs C(ftype) (V(0) or V(1)); null when not xfs or C(xfs_info) cannot tell.
      type: int
    found:
      description:
        - What the device holds, e.g. C(xfs filesystem with ftype=0 (UUID X)), C(ext4 filesystem (UUID X)),
          C(gpt partition table), C(partition /dev/sdb1). Empty when blank.
      type: list
      elements: str
    ready:
      description: Whether it holds xfs with ftype=1, no partition table and no partitions.
      type: bool
mount_point:
  description: What is mounted at O(mount_point).
  returned: when O(mount_point) is set
  type: dict
  sample: {mounted: true, source: /dev/md1, majmin: "9:1", findmnt: "/dev/md1 9:1"}
  contains:
    mounted:
      description: Whether anything is mounted there.
      type: bool
    source:
      description: The mounted source; empty when nothing is mounted.
      type: str
    majmin:
      description: Its C(MAJ:MIN); empty when nothing is mounted.
      type: str
    findmnt:
      description: The output of C(findmnt --noheadings --output SOURCE,MAJ:MIN --mountpoint), trimmed.
      type: str
"""

from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module
from ansible_collections.gpulab.dgx.plugins.module_utils.storage.probe import (
    Host,
    StorageProbeError,
    inspect,
)


class ModuleHost(Host):
    """Runs the tools through the module (C locale, no shell)."""

    def __init__(self, module):
        self.module = module

    def which(self, name):
        return self.module.get_bin_path(name)

    def run(self, argv):
        return self.module.run_command(argv, check_rc=False, environ_update={"LC_ALL": "C"})


def main():
    module = new_module(
        argument_spec=dict(
            devices=dict(type="list", elements="path", default=[]),
            device=dict(type="path"),
            probe_device=dict(type="bool", default=True),
            mount_point=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    try:
        result = inspect(
            ModuleHost(module),
            module.params["devices"] or [],
            device=module.params["device"],
            mount_point=module.params["mount_point"],
            probe_device=module.params["probe_device"],
        )
    except StorageProbeError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
