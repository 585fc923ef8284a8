# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The burn-in report as Markdown for one host (plugins/plugin_utils/burnin/markdown.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: burnin_report
short_description: Write a host's GPU burn-in report as Markdown
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Takes O(_input), the C(report) that M(gpulab.dgx.gpu_burnin) returns (or its whole registered result), and returns
    Markdown - the verdict, the run's facts and rules, a row per GPU (verdict, Gflop/s and ratio to the host's median,
    hottest reading against its limit, peak power, clock events), every reason and warning, and DCGM's rows.
  - Fails, naming what is missing, when O(_input) is not a burn-in report.
options:
  _input:
    description: The burn-in report.
    type: dict
    required: true
  host:
    description: The host's name in the title.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Write the report next to the JSON
  ansible.builtin.copy:
    content: "{{ burnin.report | gpulab.dgx.burnin_report(inventory_hostname) }}"
    dest: "reports/{{ inventory_hostname }}.md"
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The Markdown text.
  type: str
"""

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.gpulab.dgx.plugins.plugin_utils.burnin.markdown import BurninShapeError, host_markdown


def burnin_report(report: Any, host: str) -> str:
    try:
        return host_markdown(report, str(host))
    except BurninShapeError as exc:
        raise AnsibleFilterError("burnin_report: %s" % exc)


class FilterModule(object):

    def filters(self):
        return {"burnin_report": burnin_report}
