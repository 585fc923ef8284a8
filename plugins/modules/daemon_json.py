#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: daemon_json
short_description: Merge keys into Docker's daemon.json, keeping the keys of others
version_added: "0.1.0"
description:
  - Reads Docker's C(daemon.json) once, merges O(merge) into it as a JSON Merge Patch
    (RFC 7396) and writes the result atomically, only when it differs from what is there.
  - Dicts merge recursively; any other value, lists included, replaces the existing value;
    a V(null) value removes the key. Keys not named in O(merge) are kept as they are.
  - Refuses to touch a file that is not a JSON object (fails naming the file and the parse
    error), so a hand-edited file is never lost.
  - Refuses to set C(default-runtime) to V(nvidia); GPUs are requested per container.
  - Does not restart Docker; notify a handler when it reports C(changed) (the P(gpulab.dgx.docker_engine#role)
    role does this).
author:
  - gpulab.dgx maintainers (@gpulab)
options:
  path:
    description:
      - The daemon configuration file. Its directory is created (mode 0755) when missing.
    type: path
    default: /etc/docker/daemon.json
  merge:
    description:
      - Keys to merge into the file, as a JSON Merge Patch.
      - Values in C(log-opts) must be strings, as dockerd requires.
    type: dict
    default: {}
  backup:
    description:
      - Keep a timestamped copy of the previous file next to it when the file changes.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports what would change without writing.
  diff_mode:
    support: full
    description: Shows the file before and after as indented JSON.
  idempotent:
    support: full
    description: A second run with the same O(merge) reports no change.
notes:
  - The file is rewritten with 2-space indentation; it is not rewritten at all when the
    merged content equals the current content, whatever its formatting.
seealso:
  - name: Docker daemon configuration file
    description: Keys dockerd accepts in daemon.json.
    link: https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file
"""

EXAMPLES = r"""
- name: Rotate container logs and keep containers running across daemon restarts
  gpulab.dgx.daemon_json:
    merge:
      log-opts:
        max-size: "100m"
        max-file: "3"
      live-restore: true
  notify: "gpulab.dgx docker restart"

- name: Register the NVIDIA runtime without making it the default
  gpulab.dgx.daemon_json:
    merge:
      runtimes:
        nvidia:
          path: nvidia-container-runtime
          args: []
    backup: true

- name: Remove a default runtime someone else set
  gpulab.dgx.daemon_json:
    merge:
      default-runtime: null
"""

RETURN = r"""
config:
  description: The configuration after the merge (what the file holds, or would hold in check mode).
  returned: success
  type: dict
  sample: {"live-restore": true, "log-opts": {"max-file": "3", "max-size": "100m"}}
path:
  description: The file that was read and, when changed, written.
  returned: success
  type: str
  sample: /etc/docker/daemon.json
created:
  description: Whether the file did not exist before.
  returned: success
  type: bool
  sample: false
backup_file:
  description: The copy of the previous file.
  returned: when O(backup=true), the file existed and changed (not in check mode)
  type: str
  sample: /etc/docker/daemon.json.12345.2024-01-01@00:00:00~
"""

from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module
from ansible_collections.gpulab.dgx.plugins.module_utils.docker.daemon_json import (
    DaemonJsonError,
    plan,
    write_config,
)


def main():
    module = new_module(
        argument_spec=dict(
            path=dict(type="path", default="/etc/docker/daemon.json"),
            merge=dict(type="dict", default={}),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    try:
        result = plan(path, module.params["merge"] or {})
    except DaemonJsonError as exc:
        module.fail_json(msg=str(exc), path=path)

    for warning in result["warnings"]:
        module.warn(warning)

    response = dict(
        changed=result["changed"],
        config=result["after"],
        path=path,
        created=result["before_text"] is None,
    )
    if module._diff and result["changed"]:
        response["diff"] = dict(
            before=result["before_text"] or "",
            after=result["after_text"],
            before_header=path if result["before_text"] is not None else "%s (absent)" % path,
            after_header=path,
        )
    if result["changed"] and not module.check_mode:
        if module.params["backup"] and result["before_text"] is not None:
            response["backup_file"] = module.backup_local(path)
        try:
            write_config(path, result["after_text"], move=module.atomic_move)
        except (IOError, OSError) as exc:
            module.fail_json(msg="cannot write %s: %s" % (path, exc), path=path)
    module.exit_json(**response)


if __name__ == "__main__":
    main()
