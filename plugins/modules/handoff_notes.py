#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: handoff_notes
short_description: Write a GPU host's tenant handoff notes on the controller, in one task
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Renders one note per tenant, C(<dir>/<tenant>@<host>.md), from a Jinja template, on the
    controller and in the controller's own process (an action plugin; nothing runs on the managed
    host, no process is started per note).
  - A note is written only when its text differs from the file there or the file is not a regular
    file of mode C(0600); it is replaced atomically (a temporary file in the same directory, synced,
    renamed). The directory is made with mode C(0700) when missing.
  - The template gets C(tenant), one tenant's C(tenant) result of M(gpulab.dgx.tenants) or
    M(gpulab.dgx.tenant), and the variables in O(vars). It renders in Jinja's sandbox with undefined
    variables refused; Ansible's own filters are not available to it.
  - Names are confined - a tenant or host name that could point outside O(dir) is refused before
    anything is written.
options:
  dir:
    description: Directory of the notes on the controller (absolute).
    type: path
    required: true
  host:
    description: The host's name in the notes' file names (usually C(inventory_hostname)).
    type: str
    required: true
  notes:
    description: The tenants whose notes are written; each needs at least C(name) and what the template reads.
    type: list
    elements: dict
    default: []
  remove:
    description: Names of tenants whose notes of this host are removed (their tenants were removed).
    type: list
    elements: str
    default: []
  src:
    description: The template, looked up like M(ansible.builtin.template)'s C(src) (the role's C(templates/) first).
    type: str
    default: handoff.md.j2
  vars:
    description: Variables the template reads besides C(tenant).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Reports the notes that would be written or removed; writes nothing.
  diff_mode:
    support: full
    description: Each written or removed note's text before and after.
  action:
    support: full
    description: Runs on the controller only.
seealso:
  - module: gpulab.dgx.tenants
"""

EXAMPLES = r"""
- name: Write the handoff notes of the tenants this run changed
  gpulab.dgx.handoff_notes:
    dir: "{{ playbook_dir }}/.handoff"
    host: "{{ inventory_hostname }}"
    notes: "{{ rollout.order | map('extract', rollout.tenants) | map(attribute='tenant') | list }}"
    vars:
      inventory_hostname: "{{ inventory_hostname }}"
      tenant_handoff_host: "{{ ansible_host | default(inventory_hostname) }}"
"""

RETURN = r"""
written:
  description: Notes written (or that would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: [/home/admin/lab/.handoff/alice@dgx01.md]
removed:
  description: Notes removed (or that would be).
  returned: success
  type: list
  elements: str
unchanged:
  description: Notes already as rendered.
  returned: success
  type: int
  sample: 31
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type="path", required=True),
            host=dict(type="str", required=True),
            notes=dict(type="list", elements="dict", default=[]),
            remove=dict(type="list", elements="str", default=[]),
            src=dict(type="str", default="handoff.md.j2"),
            vars=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    module.fail_json(msg="gpulab.dgx.handoff_notes runs on the controller through its action plugin, "
                         "which was not used for host %s" % module.params["host"])


if __name__ == "__main__":
    main()
