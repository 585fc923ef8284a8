# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One HTML index page over every host's allocation map (plugins/plugin_utils/report/index.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: allocation_index
short_description: One HTML page over the allocation maps of many hosts
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Takes O(_input), a dict of inventory host to its C(allocation) from M(gpulab.dgx.allocation_info) (or the
    whole registered result), and returns an HTML page - a table of each host's free and total GPUs and CPUs,
    tenants and warnings, then per host its totals, warnings, its picture C(<host>.svg) (expected beside the
    page, as C(playbooks/report.yml) writes it) and links to C(<host>.txt) and C(<host>.json).
  - O(missing) hosts are listed as having no report.
  - All text from the input (host and tenant names) is escaped.
options:
  _input:
    description: Inventory host -> allocation map.
    type: dict
    required: true
  missing:
    description: Hosts without a map (the run failed there).
    type: list
    elements: str
    default: []
  title:
    description: The page's title.
    type: str
    default: GPU allocation
"""

EXAMPLES = r"""
- name: Write one index for every host of the play
  ansible.builtin.copy:
    content: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'alloc') | map(attribute='allocation')))
         | gpulab.dgx.allocation_index(missing=ansible_play_hosts_all | difference(ansible_play_hosts)) }}
    dest: gpulab-report/index.html
    mode: "0644"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The HTML page.
  type: str
"""

from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.index import render_index
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.shape import ReportShapeError


def allocation_index(hosts: Any, missing: Optional[Any] = None, title: str = "GPU allocation") -> str:
    if missing is not None and not isinstance(missing, (list, tuple)):
        raise AnsibleFilterError("allocation_index: missing must be a list of host names, got %r" % (missing,))
    try:
        return render_index(hosts, list(missing or []), str(title))
    except ReportShapeError as exc:
        raise AnsibleFilterError("allocation_index: %s" % exc)


class FilterModule(object):

    def filters(self):
        return {"allocation_index": allocation_index}
