# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant role's list and the tenants a run is for, checked (no program in Jinja)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: tenant_selection
short_description: Check a host's tenant list and pick the tenants a run is for
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Takes O(_input), the P(gpulab.dgx.tenant#role) role's C(tenant_list) (C(gpulab_tenants)), and
    O(only), the run's C(tenant_only); returns the tenants of the list the run is for, in list order.
  - Fails, before any tenant is touched, when the list is not a list of dicts each with a unique
    C(name), when O(only) names a tenant the list does not have (naming it and the known ones), or
    when nothing is left to roll out.
options:
  _input:
    description: The host's tenants (each a dict of the tenant options, with C(name)).
    type: list
    elements: dict
    required: true
  only:
    description: One name, names separated by commas, or a list of names; empty selects every tenant.
    type: raw
    default: ""
"""

EXAMPLES = r"""
- name: Pick the tenants of this run
  ansible.builtin.set_fact:
    selected: "{{ gpulab_tenants | gpulab.dgx.tenant_selection(tenant | default('')) }}"
"""

RETURN = r"""
_value:
  description: The tenants of the list the run is for, in list order.
  type: list
  elements: dict
"""

import json
from typing import Any, Dict, List

from ansible.errors import AnsibleFilterError


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


def _names(only: Any) -> List[str]:
    if only is None:
        return []
    if isinstance(only, str):
        only = only.split(",")
    if not isinstance(only, (list, tuple)) or not all(isinstance(n, str) for n in only):
        raise AnsibleFilterError("tenant_only (-e tenant=...) must be a name, names separated by commas, or a list "
                                 "of names; got %s" % _shown(only))
    return [n.strip() for n in only if n.strip()]


def tenant_selection(tenants: Any, only: Any = "") -> List[Dict[str, Any]]:
    if not isinstance(tenants, (list, tuple)) or not all(isinstance(t, dict) for t in tenants):
        raise AnsibleFilterError("gpulab_tenants (tenant_list) must be a list of tenant specs (dicts); got %s"
                                 % _shown(tenants))
    unnamed = [i for i, t in enumerate(tenants) if not isinstance(t.get("name"), str) or not t["name"]]
    if unnamed:
        raise AnsibleFilterError("gpulab_tenants (tenant_list): item(s) %s have no name"
                                 % ", ".join(str(i) for i in unnamed))
    known = [t["name"] for t in tenants]
    twice = sorted(set(n for n in known if known.count(n) > 1))
    if twice:
        raise AnsibleFilterError("gpulab_tenants (tenant_list): name(s) %s given more than once" % ", ".join(twice))
    names = _names(only)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise AnsibleFilterError("tenant(s) %s not in gpulab_tenants (known: %s)" % (", ".join(unknown), ", ".join(known)))
    selected = [t for t in tenants if t["name"] in names] if names else list(tenants)
    if not selected:
        raise AnsibleFilterError("gpulab_tenants is empty: nothing to roll out")
    return selected


class FilterModule(object):

    def filters(self):
        return {"tenant_selection": tenant_selection}
