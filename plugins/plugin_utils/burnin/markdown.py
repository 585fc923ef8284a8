# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The burn-in report for people: one host's Markdown, and the fleet's summary over several hosts
(per-GPU throughput spread across hosts, the slowest GPUs named)."""

from __future__ import annotations

import statistics
from typing import Any, Dict, List, Optional


class BurninShapeError(Exception):
    """The input is not a burn-in report (gpulab.dgx.gpu_burnin's `report`)."""


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "".join(c if c.isprintable() else "?" for c in text).replace("|", "\\|")


def _report(report: Any) -> Dict[str, Any]:
    if isinstance(report, dict) and "report" in report and isinstance(report["report"], dict):
        report = report["report"]
    if not isinstance(report, dict) or not isinstance(report.get("gpus"), list) or report.get("verdict") not in ("pass", "fail"):
        raise BurninShapeError("not a gpulab.dgx.gpu_burnin report (needs verdict and gpus)")
    return report


def _limit(gpu: Dict[str, Any]) -> str:
    limits = gpu.get("limits") or {}
    return "%s C (max operating %s, slowdown %s)" % (gpu.get("temp_limit"), limits.get("max_operating"), limits.get("slowdown"))


def host_markdown(report: Any, host: str) -> str:
    """One host's report: verdict, run facts, a row per GPU, then every reason and warning, and DCGM's rows."""
    report = _report(report)
    lines = ["# GPU burn-in of %s: %s" % (_cell(host), report["verdict"].upper()), ""]
    lines.append("- GPUs seen: %s (expected: %s); driver %s" % (
        report.get("gpus_seen"), _cell(report.get("gpus_expected") or "not set"), _cell(report.get("driver_version"))))
    lines.append("- stress: %s s asked, %s s run, mode %s; DCGM: %s" % (
        report.get("duration"), report.get("seconds"), _cell(report.get("mode")),
        ", ".join("level %s" % d["level"] for d in report.get("dcgm") or []) or ("not installed" if not report.get("dcgm_installed") else "no level asked")))
    thresholds = report.get("thresholds") or {}
    lines.append("- rules: temperature margin %s C, cap %s, throughput tolerance %s %%" % (
        thresholds.get("temp_margin"), _cell(thresholds.get("temp_cap") or "none"), thresholds.get("perf_tolerance_percent")))
    for problem in report.get("problems") or []:
        lines.append("- **problem:** %s" % _cell(problem))
    for note in report.get("notes") or []:
        lines.append("- note: %s" % _cell(note))
    lines += ["", "| GPU | UUID | model | verdict | Gflop/s | vs median | max temp | limit | max power | clock events |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for gpu in report["gpus"]:
        events = ", ".join("%s x%d" % (k, v) for k, v in sorted((gpu.get("clock_events") or {}).items())) or "-"
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            gpu.get("index"), _cell(gpu.get("uuid")), _cell(gpu.get("name")), (gpu.get("verdict") or "").upper(),
            "-" if gpu.get("gflops") is None else "%.0f" % gpu["gflops"],
            "-" if gpu.get("gflops_vs_median") is None else "%.3f" % gpu["gflops_vs_median"],
            "-" if gpu.get("max_temp") is None else "%s C" % gpu["max_temp"], _cell(_limit(gpu)),
            "-" if gpu.get("max_power_w") is None else "%s W" % gpu["max_power_w"], _cell(events)))
    lines.append("")
    for gpu in report["gpus"]:
        for reason in gpu.get("reasons") or []:
            lines.append("- GPU %s **fails**: %s" % (gpu.get("index"), _cell(reason)))
        for warning in gpu.get("warnings") or []:
            lines.append("- GPU %s warning: %s" % (gpu.get("index"), _cell(warning)))
    rows = [r for d in report.get("dcgm") or [] for r in [dict(r, level=d["level"]) for r in d.get("rows") or []]]
    errors = [d for d in report.get("dcgm") or [] if d.get("error")]
    if rows or errors:
        lines += ["", "## DCGM", "", "| level | category | test | GPUs | status | detail |", "|---|---|---|---|---|---|"]
        for row in rows:
            gpus = ",".join(str(g) for g in row.get("gpus") or []) or "all"
            cells = (row["level"], _cell(row.get("category")), _cell(row.get("test")), gpus, _cell(row.get("status")), _cell(row.get("detail")))
            lines.append("| %s | %s | %s | %s | %s | %s |" % cells)
        for level in errors:
            lines.append("")
            lines.append("- level %s: **%s**" % (level["level"], _cell(level["error"])))
    return "\n".join(lines).rstrip("\n") + "\n"


def fleet_summary(reports: Any, slowest: int = 5) -> Dict[str, Any]:
    """{host: report} -> {verdict, hosts, failed, models: [{model, gpus, median, min, max, spread_percent}], slowest,
    markdown}: per model, the throughput spread across every host's GPUs and the slowest GPUs by name."""
    if not isinstance(reports, dict) or not reports:
        raise BurninShapeError("needs {host: report} of at least one host")
    checked = dict((str(host), _report(report)) for host, report in reports.items())
    by_model: Dict[str, List[Dict[str, Any]]] = {}
    failed: List[Dict[str, Any]] = []
    for host, report in sorted(checked.items()):
        for gpu in report["gpus"]:
            if gpu.get("verdict") == "fail":
                failed.append({"host": host, "gpu": gpu.get("index"), "reasons": gpu.get("reasons") or []})
            if gpu.get("gflops"):
                by_model.setdefault(str(gpu.get("name") or ""), []).append({"host": host, "gpu": gpu.get("index"), "gflops": float(gpu["gflops"])})
    models: List[Dict[str, Any]] = []
    ranked: List[Dict[str, Any]] = []
    for model, gpus in sorted(by_model.items()):
        values = [g["gflops"] for g in gpus]
        median = statistics.median(values)
        models.append({"model": model, "gpus": len(values), "median": round(median, 1), "min": min(values), "max": max(values),
                       "spread_percent": round(100.0 * (max(values) - min(values)) / median, 2) if median else None})
        for gpu in gpus:
            ranked.append(dict(gpu, model=model, below_median_percent=round(100.0 * (median - gpu["gflops"]) / median, 2) if median else None))
    ranked.sort(key=lambda g: (-(g["below_median_percent"] or 0), g["host"], g["gpu"]))
    verdict = "fail" if any(r["verdict"] == "fail" for r in checked.values()) else "pass"
    summary: Dict[str, Any] = {"verdict": verdict, "hosts": dict((h, r["verdict"]) for h, r in sorted(checked.items())),
                               "failed": failed, "models": models, "slowest": ranked[:max(0, int(slowest))]}
    summary["markdown"] = _fleet_markdown(summary)
    return summary


def _fleet_markdown(summary: Dict[str, Any]) -> str:
    lines = ["# GPU burn-in of the fleet: %s" % summary["verdict"].upper(), "", "| host | verdict |", "|---|---|"]
    lines += ["| %s | %s |" % (_cell(h), v.upper()) for h, v in summary["hosts"].items()]
    lines += ["", "| model | GPUs | median Gflop/s | min | max | spread |", "|---|---|---|---|---|---|"]
    for m in summary["models"]:
        lines.append("| %s | %d | %.0f | %.0f | %.0f | %s %% |" % (_cell(m["model"]), m["gpus"], m["median"], m["min"], m["max"], m["spread_percent"]))
    lines += ["", "Slowest GPUs against their model's fleet median:", ""]
    lines += ["- %s GPU %s (%s): %.0f Gflop/s, %s %% below" % (_cell(g["host"]), g["gpu"], _cell(g["model"]), g["gflops"], g["below_median_percent"])
              for g in summary["slowest"]]
    if summary["failed"]:
        lines += ["", "Failed GPUs:", ""]
        lines += ["- %s GPU %s: %s" % (_cell(f["host"]), f["gpu"], _cell("; ".join(f["reasons"]))) for f in summary["failed"]]
    return "\n".join(lines) + "\n"


def verdict_of(report: Any) -> Optional[str]:
    return _report(report)["verdict"]
