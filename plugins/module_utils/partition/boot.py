# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a partitioned host does at boot, without Ansible (the gpulab-mig command and its two systemd units):

- `restore`, before Docker starts: create the layout's instances again on the GPUs whose MIG mode is
  already as the layout says and that have no instance (MIG mode survives a reboot, instances do not).
  It never destroys an instance or changes a MIG mode: any other difference is reported and left to
  playbooks/partition.yml, which checks who holds what first.
- `remap`, once Docker runs: MIG tenants whose instances were created again get the new UUIDs in their
  slots (partition.remap); the gpu_partition module does the same after it applies a layout."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.common.errors import FieldError
from ansible_collections.gpulab.dgx.plugins.module_utils.docker.client import DockerUnreachable, connect
from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import NvidiaSmiError
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.apply import ApplyError, apply_changes, mismatches
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.layout import Desired, read_layout
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.plan import Change, creates_only, plan
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.remap import plan_remap, remap_container
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import Ledger, read_ledger
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.host import read_host_topology
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError

Run = Callable[[List[str]], Tuple[int, str, str]]


def process_runner(path: str = "nvidia-smi") -> Run:
    """run(args) -> (rc, stdout, stderr) of `nvidia-smi ARGS` in the C locale, as nvidia_smi_runner but
    without an Ansible module; NvidiaSmiError('nvidia_smi_missing') when there is no such program."""
    def run(args: List[str]) -> Tuple[int, str, str]:
        executable = path if os.sep in path else (shutil.which(path) or shutil.which(path, path="/usr/bin"))
        if not executable or not os.access(executable, os.X_OK):
            raise NvidiaSmiError("nvidia_smi_missing", "nvidia-smi was not found on the host (%s)" % path)
        proc = subprocess.run([executable] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=dict(os.environ, LC_ALL="C"), universal_newlines=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr
    return run


def restorable(changes: List[Change]) -> Tuple[List[Change], List[Change]]:
    """(changes that only create instances on a GPU in the right MIG mode with none, the others)."""
    ok = [c for c in changes if creates_only(c.before, c.after)]
    return ok, [c for c in changes if c not in ok]


def restore(topology: Dict[str, Any], desired: Dict[int, Desired], run: Run,
            read: Callable[[], Dict[str, Any]], check: bool) -> Dict[str, Any]:
    """{changed, commands, left}: the instances created again (or that would be, with `check`), and one line
    per GPU left as it is because it differs otherwise. ApplyError (after a rollback) when a step fails."""
    changes, refusals = plan(topology, desired, {})
    ok, others = restorable(changes)
    left = ["GPU %d is %s, the layout says %s: left for playbooks/partition.yml" % (c.index, c.before, c.after.as_dict())
            for c in others] + refusals
    commands = ["nvidia-smi " + " ".join(step) for c in ok for step in c.steps]
    if check or not ok:
        return {"changed": bool(ok), "commands": commands, "left": left}
    apply_changes(ok, run, read)
    wrong = [w for w in mismatches(read(), desired) if w[0] in set(c.index for c in ok)]
    left.extend("GPU %d after the change %s" % w for w in wrong)
    return {"changed": True, "commands": commands, "left": left}


def remap_tenants(client: Any, topology: Dict[str, Any], check: bool, ledger: Optional[Ledger] = None) -> Dict[str, Any]:
    """{changed, remapped: [{tenant, before, after}], problems}: MIG tenants moved onto the instances now in
    their slots (not with `check`). A failure while one container is made again puts that one back and
    is raised; the tenants before it stay moved. `ledger`: the one the caller has read (else read here)."""
    ledger = ledger if ledger is not None else read_ledger(client)
    remaps, problems = plan_remap(list(ledger.tenants.values()), topology, list(ledger.leftovers.values()))
    if not check:
        for remap in remaps:
            remap_container(client, remap)
    return {"changed": bool(remaps), "remapped": [r.as_dict() for r in remaps], "problems": problems}


def boot(command: str, params: Dict[str, Any], check: bool) -> Tuple[int, List[str]]:
    """One run of the gpulab-mig command: (exit status, lines to print). params: config, name (the layout,
    as the gpu_partition role wrote it), nvidia_smi, docker_host. Status 1 when something is left to the
    admin (a GPU not restored, a tenant not moved) or failed; the lines say what and what to do."""
    run = process_runner(params.get("nvidia_smi") or "nvidia-smi")

    def read() -> Dict[str, Any]:
        return read_host_topology(run=run)

    try:
        topology = read()
    except TopologyError as exc:
        return 1, ["GPUs: %s" % exc]
    if command == "restore":
        try:
            desired = read_layout(params.get("config"), params.get("name"), [int(g["index"]) for g in topology["gpus"]])
            result = restore(topology, desired, run, read, check)
        except (FieldError, ApplyError, TopologyError) as exc:
            return 1, [str(exc)]
        verb = "would create" if check else "created"
        lines = ["%s again: %s" % (verb, c) for c in result["commands"]] or ["every GPU is as layout %s says" % params.get("name")]
        return (1 if result["left"] else 0), lines + result["left"]
    try:
        moved = remap_tenants(connect(params.get("docker_host")), topology, check)
    except DockerUnreachable as exc:
        return 1, ["docker_host: %s" % exc]
    except Exception as exc:  # pylint: disable=broad-except
        return 1, ["moving a MIG tenant onto its new instances failed (its container was put back): %s" % exc]
    verb = "would move" if check else "moved"
    lines = ["%s tenant %s: %s -> %s" % (verb, r["tenant"], ",".join(r["before"]), ",".join(r["after"])) for r in moved["remapped"]]
    return (1 if moved["problems"] else 0), (lines or ["no MIG tenant to move"]) + moved["problems"]
