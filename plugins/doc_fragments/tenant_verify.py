# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared documentation of the tenant modules' check from inside the containers (module_utils/tenant/verify.py)."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  verify:
    description:
      - After bringing the tenants to their state, read from inside each present tenant's container what
        it holds (through Docker's exec API, in the module's own process) and compare it with what was
        placed. V(none) reads nothing, V(changed) reads the containers of tenants this run changed, V(all)
        every present one.
      - Read are the GPUs a login sees (C(NVIDIA_VISIBLE_DEVICES), and C(nvidia-smi -L) when present),
        the cpuset and CPU quota, the memory limit, the sizes of C(/) (when a disk size is enforced) and
        C(/dev/shm), the locked-memory and stack limits, and whether sshd listens on port 22.
      - A container that differs fails its tenant with what differs; the container is kept (not undone)
        to be looked at. Nothing is read in check mode.
    type: str
    choices: [none, changed, all]
    default: none
  verify_parallel:
    description:
      - Most containers read at once (threads of the module, no client processes).
    type: int
    default: 8
  verify_timeout:
    description:
      - Seconds a container's sshd is given to listen; the container is read again every tenth of a second
        until it does or the time is up.
    type: int
    default: 30
"""
