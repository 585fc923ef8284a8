# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared documentation of the modules that talk to Docker (module_utils/docker/client.py)."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker daemon to talk to. Default is E(DOCKER_HOST), else C(unix:///var/run/docker.sock).
    type: str
requirements:
  - docker (Docker SDK for Python) >= 5.0 on the managed host
"""
