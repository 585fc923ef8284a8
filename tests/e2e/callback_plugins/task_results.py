# -*- coding: utf-8 -*-
"""Counts a playbook run's task results for the test bed (tests/e2e/testbed.py).

Every ok, changed, failed, skipped or unreachable result counts once, a loop item once each
(includes and handlers' notifications are not results). A result counts as "on the host" when
its task ran a module on the managed host: not skipped, not a controller-only action (assert,
set_fact, debug, ...) and not delegated to localhost. The totals are written as JSON to the file
named by GPULAB_TASK_RESULTS_FILE when the run ends."""
from __future__ import annotations

import json
import os
from collections import Counter

from ansible.playbook.task_include import TaskInclude
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_results
type: aggregate
short_description: Count task results and module runs on the host (test bed)
description:
  - Writes the counts as JSON to the file named by E(GPULAB_TASK_RESULTS_FILE).
requirements:
  - enabled in the test bed's environment (ANSIBLE_CALLBACKS_ENABLED)
"""

CONTROLLER_ACTIONS = frozenset(
    name for short in ("assert", "fail", "debug", "set_fact", "include_vars", "validate_argument_spec",
                       "meta", "add_host", "group_by", "set_stats")
    for name in (short, "ansible.builtin." + short, "ansible.legacy." + short))


def on_host(task) -> bool:
    """Whether a task that ran did so on the managed host."""
    if task.action in CONTROLLER_ACTIONS:
        return False
    return task.delegate_to not in ("localhost", "127.0.0.1")


def role_of(task) -> str:
    role = task._role  # pylint: disable=protected-access
    return role.get_name(include_role_fqcn=False) if role else "(play)"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.counts = Counter()
        self.roles = Counter()

    def _count(self, result, status, item=False):
        task, res = result.task, result.result
        if isinstance(task, TaskInclude):
            return  # an include is not a result (the default callback prints "included:")
        if not item and (task.loop is not None or task.loop_with) and res.get("results"):
            return  # a loop's summary: its items were counted one by one
        self.counts["results"] += 1
        self.counts[status] += 1
        self.roles[role_of(task)] += 1
        if status not in ("skipped", "unreachable") and on_host(task):
            self.counts["on_host"] += 1

    @staticmethod
    def _status(result):
        return "changed" if result.result.get("changed") else "ok"

    def v2_runner_on_ok(self, result):
        self._count(result, self._status(result))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._count(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._count(result, "unreachable")

    def v2_runner_item_on_ok(self, result):
        self._count(result, self._status(result), item=True)

    def v2_runner_item_on_failed(self, result):
        self._count(result, "failed", item=True)

    def v2_runner_item_on_skipped(self, result):
        self._count(result, "skipped", item=True)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("GPULAB_TASK_RESULTS_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as f:
                json.dump({**self.counts, "by_role": dict(self.roles)}, f, indent=2, sort_keys=True)
