# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The stress run: containers of the stress image on the GPUs under test (one per GPU, or one for all),
NVML samples every few seconds while they run, an early stop on a critical reading, and nothing left
behind: every container this run started carries the `gpulab.burnin` label and is removed at the end,
also when the run fails midway.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List, Optional

LABEL = "gpulab.burnin"
NAME_PREFIX = "gpulab-burnin-"


class BurninError(Exception):
    """The run could not be done (a container did not start, Docker failed): nothing is left running."""


class Plan(object):
    """What to run: `gpus` (identity dicts in PCI bus order), the image and its command (`{seconds}` is
    replaced by the duration), one container per GPU (`each`) or one for all (`all`)."""

    def __init__(self, gpus: List[Dict[str, Any]], image: str, command: List[str], seconds: int, mode: str = "each",
                 interval: float = 5.0, grace: int = 120, stop_margin: int = 2) -> None:
        self.gpus, self.image, self.command, self.seconds = gpus, image, command, seconds
        self.mode, self.interval, self.grace, self.stop_margin = mode, interval, grace, stop_margin

    def groups(self) -> List[List[Dict[str, Any]]]:
        return [[g] for g in self.gpus] if self.mode == "each" else [list(self.gpus)]

    def argv(self) -> List[str]:
        return [part.replace("{seconds}", str(self.seconds)) for part in self.command]


class Outcome(object):
    """One container's run: its GPUs, output, exit status and whether our deadline stopped it."""

    def __init__(self, gpus: List[Dict[str, Any]], stdout: str, stderr: str, status: Optional[int], timed_out: bool) -> None:
        self.gpus, self.stdout, self.stderr, self.status, self.timed_out = gpus, stdout, stderr, status, timed_out


class RunResult(object):
    def __init__(self) -> None:
        self.outcomes: List[Outcome] = []
        self.samples: Dict[int, List[Dict[str, Optional[int]]]] = {}
        self.stopped_early: Dict[int, str] = {}
        self.seconds = 0.0


def running_burnins(client: Any) -> List[str]:
    """Names of running containers of another burn-in on this Docker (by the label only this code sets)."""
    return sorted(c.name for c in client.containers.list(filters={"label": LABEL, "status": "running"}))


def remove_leftovers(client: Any) -> List[str]:
    """Remove stopped containers a previous burn-in left (by the label only this code sets); their names."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        if container.status != "running":
            container.remove(force=True)
            removed.append(container.name)
    return removed


def _start(client: Any, plan: Plan, group: List[Dict[str, Any]], run_id: str) -> Any:
    from docker.types import DeviceRequest  # pylint: disable=import-outside-toplevel
    name = NAME_PREFIX + ("all" if plan.mode == "all" else str(group[0]["index"]))
    return client.containers.run(
        plan.image, plan.argv(), detach=True, name=name, labels={LABEL: run_id},
        environment={"CUDA_DEVICE_ORDER": "PCI_BUS_ID"},
        device_requests=[DeviceRequest(driver="nvidia", device_ids=[g["uuid"] for g in group], capabilities=[["gpu"]])])


def critical(sample: Dict[str, Optional[int]], limits: Optional[Dict[str, Any]], stop_margin: int) -> Optional[str]:
    """Why a reading stops the run now (within `stop_margin` C of the slowdown temperature), else None."""
    temp = sample.get("temp")
    slowdown = (limits or {}).get("slowdown")
    if temp is None or slowdown is None:
        return None
    if temp >= int(slowdown) - stop_margin:
        return "%d C is within %d C of its slowdown temperature %d C" % (temp, stop_margin, int(slowdown))
    return None


def run(client: Any, plan: Plan, read_sample: Callable[[int], Dict[str, Optional[int]]],
        limits: Dict[int, Optional[Dict[str, Any]]], run_id: str, clock: Callable[[], float] = time.monotonic,
        wait: Optional[Callable[[float], Any]] = None) -> RunResult:
    """Run the stress, sample every `plan.interval` seconds, stop early on a critical reading or at the
    deadline (duration + grace), collect the output and remove the containers."""
    wait = wait or threading.Event().wait
    result = RunResult()
    started: List[Any] = []
    groups = plan.groups()
    begin = clock()
    try:
        for group in groups:
            try:
                started.append(_start(client, plan, group, run_id))
            except Exception as exc:  # pylint: disable=broad-except
                raise BurninError("the stress container for GPU(s) %s did not start: %s"
                                  % (",".join(str(g["index"]) for g in group), exc))
        deadline = begin + plan.seconds + plan.grace
        timed_out = False
        while True:
            for gpu in plan.gpus:
                sample = read_sample(gpu["index"])
                result.samples.setdefault(gpu["index"], []).append(sample)
                why = critical(sample, limits.get(gpu["index"]), plan.stop_margin)
                if why and gpu["index"] not in result.stopped_early:
                    result.stopped_early[gpu["index"]] = why
            if result.stopped_early:
                break
            for container in started:
                container.reload()
            if all(c.status in ("exited", "dead") for c in started):
                break
            if clock() >= deadline:
                timed_out = True
                break
            wait(plan.interval)
        for container, group in zip(started, groups):
            container.reload()
            running = container.status not in ("exited", "dead")
            if running:
                container.kill()
                container.wait(timeout=60)
                container.reload()
            state = container.attrs.get("State") or {}
            stdout = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
            stderr = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
            result.outcomes.append(Outcome(group, stdout, stderr, None if running else state.get("ExitCode"),
                                           timed_out and running))
    finally:
        for container in started:
            try:
                container.remove(force=True)
            except Exception:  # pylint: disable=broad-except
                pass
        result.seconds = round(clock() - begin, 1)
    return result
