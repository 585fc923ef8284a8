# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A host's allocation map as a fixed-width text table (plugins/plugin_utils/report/table.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: allocation_table
short_description: Print a host's allocation map as a fixed-width text table
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Takes O(_input), the C(allocation) that M(gpulab.dgx.allocation_info) returns (or its whole registered
    result), and returns a text table of what C(docker ps) cannot say - per tenant its GPUs, CPU count and
    cpuset, NUMA nodes, memory and disk limits, SSH port and image - then the free GPUs and CPUs of each
    NUMA node, and the warnings.
  - Control characters in names become C(?); long names and images are cut with an ellipsis.
  - Fails, naming the field, when O(_input) is not an allocation map.
options:
  _input:
    description: The allocation map (M(gpulab.dgx.allocation_info)'s C(allocation)).
    type: dict
    required: true
  title:
    description: The host name in the first line; default is the host name the module reported.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Show who holds what on the host
  ansible.builtin.debug:
    msg: "{{ (alloc.allocation | gpulab.dgx.allocation_table(title=inventory_hostname)).splitlines() }}"
"""

RETURN = r"""
_value:
  description: The table, lines ending in a newline.
  type: str
"""

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.shape import ReportShapeError
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.table import render_table


def allocation_table(allocation: Any, title: str = "") -> str:
    try:
        return render_table(allocation, str(title or ""))
    except ReportShapeError as exc:
        raise AnsibleFilterError("allocation_table: %s" % exc)


class FilterModule(object):

    def filters(self):
        return {"allocation_table": allocation_table}
