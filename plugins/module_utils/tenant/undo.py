# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""All or nothing: a journal of what a run changed, put back in reverse order when it fails."""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

# Docker's refusal text -> the option that caused it (first match wins).
DOCKER_ERROR_FIELDS = (
    ("could not select device driver", "gpus"),
    ("rlimit", "ulimits"),
    ("ulimit", "ulimits"),
    ("shm", "shm_size"),
    ("network", "network"),
    ("cpuset", "cpus"),
    ("cpu", "cpus"),
    ("numa", "numa_policy"),
    ("pids", "pids_limit"),
    ("memory", "memory"),
    ("storage-opt", "disk"),
    ("storage opt", "disk"),
    ("quota", "disk"),
    ("port", "ssh_port"),
    ("address already in use", "ssh_port"),
    ("mount", "data_mount"),
    ("bind", "data_mount"),
    ("image", "image"),
)


def field_of(message: str, default: str = "name") -> str:
    """The option a Docker (or OS) refusal is most likely about."""
    text = message.lower()
    for needle, field in DOCKER_ERROR_FIELDS:
        if needle in text:
            return field
    return default


class Undo(object):
    """What a run changed, each with the step that puts it back."""

    def __init__(self) -> None:
        self._steps: List[Tuple[str, Callable[[], Any]]] = []

    def add(self, what: str, step: Callable[[], Any]) -> None:
        self._steps.append((what, step))

    def run(self) -> Tuple[List[str], List[str]]:
        """Undo in reverse order; returns (what was undone, what could not be, with why)."""
        undone: List[str] = []
        failed: List[str] = []
        for what, step in reversed(self._steps):
            try:
                step()
                undone.append(what)
            except Exception as exc:  # pylint: disable=broad-except
                failed.append("%s (%s)" % (what, exc))
        self._steps = []
        return undone, failed


class RunFailed(Exception):
    """A run that failed after it began changing the host; says what it undid."""

    def __init__(self, field: str, value: Any, reason: str, undone: List[str], not_undone: List[str]) -> None:
        self.field = field
        self.value = value
        self.undone = undone
        self.not_undone = not_undone
        message = "%s: %r %s" % (field, value, reason)
        if undone:
            message += "; undone: %s" % "; ".join(undone)
        if not_undone:
            message += "; NOT undone (clean up by hand): %s" % "; ".join(not_undone)
        super(RunFailed, self).__init__(message)
