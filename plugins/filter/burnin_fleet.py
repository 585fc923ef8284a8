# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The burn-in's fleet summary over several hosts' reports (plugins/plugin_utils/burnin/markdown.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: burnin_fleet
short_description: Summarise GPU burn-in reports of several hosts
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Takes O(_input), a mapping of host names to M(gpulab.dgx.gpu_burnin) reports, and returns the fleet's verdict, each host's,
    the failed GPUs with their reasons, per GPU model the throughput median, range and spread across every host's
    GPUs, the O(slowest) GPUs against their model's fleet median, and all of it as C(markdown).
options:
  _input:
    description: The reports by host.
    type: dict
    required: true
  slowest:
    description: How many of the slowest GPUs to name.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Summarise the fleet
  ansible.builtin.copy:
    content: "{{ (reports | gpulab.dgx.burnin_fleet).markdown }}"
    dest: reports/fleet.md
    mode: "0644"
"""

RETURN = r"""
_value:
  description: C(verdict), C(hosts), C(failed), C(models), C(slowest) and C(markdown).
  type: dict
"""

from typing import Any, Dict

from ansible.errors import AnsibleFilterError

from ansible_collections.gpulab.dgx.plugins.plugin_utils.burnin.markdown import BurninShapeError, fleet_summary


def burnin_fleet(reports: Any, slowest: int = 5) -> Dict[str, Any]:
    try:
        return fleet_summary(reports, int(slowest))
    except (BurninShapeError, ValueError, TypeError) as exc:
        raise AnsibleFilterError("burnin_fleet: %s" % exc)


class FilterModule(object):

    def filters(self):
        return {"burnin_fleet": burnin_fleet}
