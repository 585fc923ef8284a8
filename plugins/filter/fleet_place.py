# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host of each tenant of a fleet (plugins/module_utils/fleet/place.py), decided on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_place
short_description: Choose the host of each tenant of a fleet from the hosts' allocation maps
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Takes O(_input), the fleet's tenant list (entries as the tenant module takes them, with an optional C(host)),
    and O(reports), each host's allocation map (M(gpulab.dgx.allocation_info)'s C(allocation)), and returns
    C(placed), tenant name to host; C(hosts), host name to the list of its tenants' entries (without C(host)),
    for every host of O(reports); and C(chosen), the tenants whose host was chosen this run (neither running
    nor pinned, so they may go to another host if they lose their room to another run). An entry with
    C(state=absent) goes to the host that has it, for its removal.
  - A tenant that already runs on a host stays there; one with C(host) goes there; every other one goes, in
    list order, to the host where it fits on one NUMA node leaving the fewest free GPUs there (best fit; with
    C(numa_policy=best-effort), failing that, across nodes). docs/placement.md states the rule.
  - Fails naming the tenant when it fits nowhere (with the largest free slot of every host), when a name is on
    two hosts or listed twice, or when an entry is malformed (naming the field).
options:
  _input:
    description: The fleet's tenants.
    type: list
    elements: dict
    required: true
  reports:
    description: Host name to its allocation map.
    type: dict
    required: true
  numa_policy:
    description: The NUMA policy of tenants that do not set one (the role's C(tenant_numa_policy)).
    type: str
    default: strict
  exclude:
    description: Tenant name to the hosts not to choose for it (where it lost a race to another run).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Choose the hosts
  ansible.builtin.set_fact:
    fleet_plan: "{{ gpulab_fleet_tenants | gpulab.dgx.fleet_place(reports) }}"  # fleet_plan.hosts[inventory_hostname]
  vars:
    reports: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, ['alloc', 'allocation']))) }}"
"""

RETURN = r"""
_value:
  description: C(placed), tenant name to the host it goes to; C(hosts), host name to its tenants' entries; C(chosen).
  type: dict
"""

from typing import Any, Dict

from ansible.errors import AnsibleFilterError

from ansible_collections.gpulab.dgx.plugins.module_utils.fleet.place import FleetError, per_host, plan_fleet


def fleet_place(tenants: Any, reports: Any, numa_policy: str = "strict", exclude: Any = None) -> Dict[str, Any]:
    try:
        placed = plan_fleet(tenants, reports, numa_policy, exclude=dict(exclude or {}))
        running = set(t["name"] for r in reports.values() for t in r.get("tenants") or [])
        pinned = set(e.get("name") for e in tenants if isinstance(e, dict) and e.get("host"))
        chosen = sorted(n for n in placed if n not in running and n not in pinned)
        return {"placed": placed, "hosts": per_host(tenants, placed, sorted(reports)), "chosen": chosen}
    except (FleetError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AnsibleFilterError("fleet_place: %s" % exc)


class FilterModule(object):

    def filters(self) -> Dict[str, Any]:
        return {"fleet_place": fleet_place}
