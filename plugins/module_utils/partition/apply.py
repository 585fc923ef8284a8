# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Apply a partition plan with nvidia-smi, one GPU after another; when a step fails, put every GPU this run
changed back as it was (best effort, reported) and say what nvidia-smi said, with the usual cause of a
GPU that will not change mode (a client holding it: nvidia-persistenced, DCGM, a process on the GPU)."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import NvidiaSmiError, run_checked
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.layout import Desired
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.plan import Change, plan

IN_USE_HINT = ("a GPU changes MIG mode only when no client holds it: stop nvidia-persistenced, nvidia-dcgm/dcgm-exporter "
               "and nvsm and any process on the GPU (nvidia-smi shows them), or let the gpulab.dgx.gpu_partition role do it")


class ApplyError(Exception):
    """A step failed; `done` lists the commands run before it, `rollback` what putting things back did."""

    def __init__(self, message: str, done: List[str], rollback: List[str]) -> None:
        super(ApplyError, self).__init__(message)
        self.done = done
        self.rollback = rollback


def apply_changes(changes: List[Change], run: Any, reread: Callable[[], Dict[str, Any]]) -> List[str]:
    """Run each change's steps; the commands run, in order. ApplyError after a rollback when one fails."""
    done: List[str] = []
    changed: List[Change] = []
    for change in changes:
        changed.append(change)
        for step in change.steps:
            try:
                run_checked(run, step)
            except NvidiaSmiError as exc:
                said = " ".join((exc.output or exc.message).split())[:400]
                hint = "; " + IN_USE_HINT if "in use" in said.lower() or "-mig" in step else ""
                rollback = _put_back(changed, run, reread)
                raise ApplyError("nvidia-smi %s failed on GPU %d: %s%s" % (" ".join(step), change.index, said, hint),
                                 done, rollback)
            done.append("nvidia-smi " + " ".join(step))
    return done


def _put_back(changed: List[Change], run: Any, reread: Callable[[], Dict[str, Any]]) -> List[str]:
    """Plan from the GPUs as they are now back to each changed GPU's state before the run, and run it."""
    log: List[str] = []
    try:
        topology = reread()
    except Exception as exc:  # pylint: disable=broad-except
        return ["could not read the GPUs to put them back: %s" % exc]
    before: Dict[int, Desired] = dict(
        (c.index, Desired(c.before["mig_enabled"], c.before["mig_devices"])) for c in changed)
    steps, refusals = plan(topology, before, {})
    log.extend(refusals)
    for change in steps:
        for step in change.steps:
            try:
                run_checked(run, step)
                log.append("nvidia-smi " + " ".join(step))
            except NvidiaSmiError as exc:
                log.append("nvidia-smi %s failed: %s" % (" ".join(step), " ".join((exc.output or exc.message).split())[:200]))
                break
    return log


def mismatches(topology: Dict[str, Any], desired: Dict[int, Desired]) -> List[Tuple[int, str]]:
    """(GPU, what differs) for every GPU the layout names that is not as it says (after an apply)."""
    changes, refusals = plan(topology, desired, {})
    return [(c.index, "is %s, the layout says %s" % (c.before, c.after.as_dict())) for c in changes] + \
        [(-1, r) for r in refusals]
