# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`dcgmi diag -r <level> -j` read into one row per (test, GPU).

DCGM 3.x nests results under `DCGM GPU Diagnostic` > `test_categories` > `tests` > `results`, each
result with `gpu_ids` (a string, a comma-separated list for the software tests) and `status`
(Pass/Fail/Warn/Skip, in any case), optional `warnings`/`info`; DCGM 4.x puts `tests` at the top (or
under `DCGM Diagnostic`) with results naming an `entity_id`. Both are walked. A skipped or not-run test
is a warning, never a pass; a document with no test at all, text that is no JSON, or a run stopped by
its timeout is an error of the level.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

STATUSES = {"pass": "pass", "passed": "pass", "fail": "fail", "failed": "fail", "error": "fail",
            "warn": "warn", "warning": "warn", "skip": "skip", "skipped": "skip"}


class DiagRow(object):
    def __init__(self, category: str, test: str, gpus: List[int], status: str, detail: str) -> None:
        self.category, self.test, self.gpus, self.status, self.detail = category, test, gpus, status, detail

    def as_dict(self) -> Dict[str, Any]:
        return {"category": self.category, "test": self.test, "gpus": self.gpus, "status": self.status, "detail": self.detail}


class DiagLevel(object):
    """One `dcgmi diag -r <level>` run: its rows, or why it gave none."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.rows: List[DiagRow] = []
        self.error: Optional[str] = None

    def failures(self, gpu: int) -> List[str]:
        return ["DCGM level %d %s: %s%s" % (self.level, r.status, r.test, (" (%s)" % r.detail) if r.detail else "")
                for r in self.rows if r.status == "fail" and (not r.gpus or gpu in r.gpus)]

    def warnings(self, gpu: int) -> List[str]:
        return ["DCGM level %d %s: %s%s" % (self.level, "skipped" if r.status == "skip" else r.status, r.test,
                                            (" (%s)" % r.detail) if r.detail else "")
                for r in self.rows if r.status in ("skip", "warn", "not run") and (not r.gpus or gpu in r.gpus)]

    def as_dict(self) -> Dict[str, Any]:
        return {"level": self.level, "error": self.error, "rows": [r.as_dict() for r in self.rows]}


def _gpus(result: Dict[str, Any]) -> List[int]:
    raw = result.get("gpu_ids", result.get("gpu_id", result.get("entity_id")))
    if isinstance(raw, int):
        return [raw]
    if isinstance(raw, list):
        return [int(v) for v in raw if str(v).strip().isdigit()]
    return [int(v) for v in str(raw or "").split(",") if v.strip().isdigit()]


def _detail(result: Dict[str, Any]) -> str:
    texts: List[str] = []
    for key in ("warnings", "info"):
        for item in result.get(key) or []:
            texts.append(str(item.get("warning", item.get("message", item)) if isinstance(item, dict) else item))
    return "; ".join(t.strip() for t in texts if str(t).strip())[:300]


def _tests(root: Dict[str, Any]):
    for category in root.get("test_categories") or []:
        if isinstance(category, dict):
            for test in category.get("tests") or []:
                if isinstance(test, dict):
                    yield str(category.get("category", "")), test
    for test in root.get("tests") or []:
        if isinstance(test, dict):
            yield str(test.get("category", "")), test


def _json_of(text: str) -> Any:
    """The JSON document in `text`, which may carry lines of warnings before it."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object")
    return json.loads(text[start:])


def parse_diag(level: int, text: str, status: Optional[int], timed_out: bool = False) -> DiagLevel:
    """One level's rows from its `-j` output; `status` its exit status, `timed_out` when our limit stopped it."""
    diag = DiagLevel(level)
    if timed_out:
        diag.error = "dcgmi diag -r %d did not end in time and was stopped" % level
        return diag
    try:
        document = _json_of(text or "")
    except ValueError:
        diag.error = "dcgmi diag -r %d printed no JSON (exit %s): %s" % (level, status, (text or "").strip()[:200])
        return diag
    root = document
    for key in ("DCGM GPU Diagnostic", "DCGM Diagnostic"):
        if isinstance(document, dict) and isinstance(document.get(key), dict):
            root = document[key]
    if not isinstance(root, dict):
        diag.error = "dcgmi diag -r %d: the JSON is not an object" % level
        return diag
    for category, test in _tests(root):
        name = str(test.get("name") or test.get("test_name") or "unknown test")
        for result in test.get("results") or []:
            if isinstance(result, dict):
                status_text = " ".join(str(result.get("status", "")).split()).lower()
                diag.rows.append(DiagRow(category, name, _gpus(result), STATUSES.get(status_text, "not run"), _detail(result)))
    runtime = root.get("runtime_error") or (document.get("runtime_error") if isinstance(document, dict) else None)
    if runtime:
        diag.error = "dcgmi diag -r %d: %s" % (level, str(runtime).strip()[:300])
    elif not diag.rows:
        diag.error = "dcgmi diag -r %d gave no test result (exit %s)" % (level, status)
    return diag
