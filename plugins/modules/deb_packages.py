#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deb_packages
short_description: Read which Debian packages are installed, at which version and selection
version_added: "0.1.0"
description:
  - Runs C(dpkg-query --show) once and returns every package dpkg knows (or those of O(names)) with
    its version, upstream version, selection (C(install), C(hold), ...) and status.
  - Unlike M(ansible.builtin.package_facts) it needs no python3-apt, which a minimal host lacks.
  - Read-only; never changes the host and always reports C(changed=false).
author:
  - gpulab.dgx maintainers (@gpulab)
options:
  names:
    description:
      - Packages to read (Debian names, optionally with C(:arch)); empty reads all. A name dpkg
        does not know is left out of the result.
    type: list
    elements: str
    default: []
requirements:
  - dpkg on the managed host (Debian, Ubuntu).
extends_documentation_fragment:
  - gpulab.dgx.attributes.read_only
"""

EXAMPLES = r"""
- name: Read the installed packages
  gpulab.dgx.deb_packages:
  register: debs

- name: Packages still missing
  ansible.builtin.debug:
    msg: "{{ ['docker.io', 'python3-docker'] | reject('in', debs.installed) | list }}"
"""

RETURN = r"""
packages:
  description: Every package read, by name.
  returned: always
  type: dict
  sample: {"nvidia-driver": {"version": "535.183.01-1~deb12u1", "upstream_version": "535.183.01",
           "want": "hold", "status": "installed"}}
installed:
  description: Names of the installed packages (status C(installed)), sorted.
  returned: always
  type: list
  elements: str
  sample: ["docker.io", "python3-docker"]
installed_versions:
  description: Version of each installed package, by name.
  returned: always
  type: dict
  sample: {"docker.io": "20.10.24+dfsg1-1+b3"}
installed_pins:
  description: Each installed package as C(name=version), the way apt names a pinned package, sorted.
  returned: always
  type: list
  elements: str
  sample: ["docker.io=20.10.24+dfsg1-1+b3"]
"""


from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module
from ansible_collections.gpulab.dgx.plugins.module_utils.system.dpkg import installed, parse, query_argv, valid_name


def main():
    module = new_module(argument_spec=dict(names=dict(type="list", elements="str", default=[])),
                        supports_check_mode=True)
    names = module.params["names"]
    bad = [n for n in names if not valid_name(n)]
    if bad:
        module.fail_json(msg="names: %r is not a Debian package name" % bad[0])
    rc, out, err = module.run_command(query_argv(names))
    # With names, dpkg-query exits 1 when one of them is unknown and still prints the others.
    if rc != 0 and not (names and rc == 1):
        module.fail_json(msg="dpkg-query failed (rc %d): %s" % (rc, err.strip()))
    packages = parse(out)
    versions = installed(packages)
    module.exit_json(changed=False, packages=packages, installed=sorted(versions), installed_versions=versions,
                     installed_pins=["%s=%s" % item for item in sorted(versions.items())])


if __name__ == "__main__":
    main()
