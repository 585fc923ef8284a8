# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A host's allocation map as an SVG picture (drawing: plugins/plugin_utils/report/svg.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: allocation_svg
short_description: Draw a host's allocation map as an SVG picture
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Takes O(_input), the C(allocation) that M(gpulab.dgx.allocation_info) returns (or its whole registered
    result), and returns an SVG document - each NUMA node as a box with its CPUs as small cells (the
    hyperthreads of one core stacked), its GPUs as labelled boxes, the GPU links (an NVSwitch fabric as one
    bar, other NVLinks and PCIe switches as arcs), each tenant's GPUs and CPUs in its own colour, free ones
    white, a legend with each tenant's SSH port and limits, and the warnings.
  - Colours come from a fixed palette of 12, given out by sorted tenant name; they repeat after 12 tenants
    (GPU boxes also carry the tenant's name).
  - All text from the input (tenant names, images) is escaped.
  - Fails, naming the field, when O(_input) is not an allocation map.
options:
  _input:
    description: The allocation map (M(gpulab.dgx.allocation_info)'s C(allocation)).
    type: dict
    required: true
  title:
    description: The picture's title; default is the host name the module reported.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Write the host's allocation map on the controller
  ansible.builtin.copy:
    content: "{{ alloc.allocation | gpulab.dgx.allocation_svg(title=inventory_hostname) }}"
    dest: "gpulab-report/{{ inventory_hostname }}.svg"
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The SVG document (UTF-8 text).
  type: str
"""

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.shape import ReportShapeError
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.svg import render_svg


def allocation_svg(allocation: Any, title: str = "") -> str:
    try:
        return render_svg(allocation, str(title or "")).svg
    except ReportShapeError as exc:
        raise AnsibleFilterError("allocation_svg: %s" % exc)


class FilterModule(object):

    def filters(self):
        return {"allocation_svg": allocation_svg}
