# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One HTML page for every host's allocation map: a summary table (GPUs, CPUs, tenants, warnings per
host) and, per host, its picture (`<host>.svg` beside the page) with links to its table and JSON.
Hosts without a map (their run failed) are listed as such."""

from __future__ import annotations

from typing import Any, Dict, List, Optional
from urllib.parse import quote

from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.escape import esc
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.shape import ReportShapeError, check_report, totals_line

STYLE = """body{font-family:"DejaVu Sans",Verdana,Arial,sans-serif;margin:24px;background:#fbfbf8;color:#222}
table{border-collapse:collapse;margin:12px 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:left}
th{background:#eef1f5}.warn{color:#c0392b;font-weight:bold}.host{margin:28px 0}img{max-width:100%;border:1px solid #ddd}"""


def render_index(hosts: Any, missing: Optional[List[Any]] = None, title: str = "GPU allocation") -> str:
    """`hosts`: {inventory host: allocation map (or the module's registered result)}; `missing`: hosts
    without one (shown as failed)."""
    if not isinstance(hosts, dict):
        raise ReportShapeError("hosts must be a dict of inventory host -> allocation, got %s" % type(hosts).__name__)
    reports: Dict[str, Dict[str, Any]] = {}
    for host in sorted(hosts, key=str):
        reports[str(host)] = check_report(hosts[host], "hosts[%r]" % (host,))
    missing_names = sorted(str(m) for m in (missing or []) if str(m) not in reports)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>%s</title><style>%s</style></head><body>" % (esc(title), STYLE),
           "<h1>%s</h1>" % esc(title),
           "<table><tr><th>host</th><th>GPUs free / total</th><th>CPUs free / total</th><th>tenants</th><th>warnings</th></tr>"]
    for host, report in reports.items():
        gpus, cpus = report["host"].get("gpus") or {}, report["host"].get("cpus") or {}
        count = len(report["warnings"])
        out.append('<tr><td><a href="#%s">%s</a></td><td>%s / %s</td><td>%s / %s</td><td>%d</td><td%s>%d</td></tr>'
                   % (esc(_anchor(host)), esc(host), gpus.get("free", "?"), gpus.get("total", "?"), cpus.get("free", "?"),
                      cpus.get("total", "?"), len(report["tenants"]), ' class="warn"' if count else "", count))
    for host in missing_names:
        out.append('<tr><td>%s</td><td colspan="4" class="warn">no report: the run failed on this host</td></tr>' % esc(host))
    out.append("</table>")
    for host, report in reports.items():
        file = quote(host, safe="")
        out.append('<div class="host" id="%s"><h2>%s</h2><p>%s</p>' % (esc(_anchor(host)), esc(host), esc(totals_line(report))))
        for warning in report["warnings"]:
            out.append('<p class="warn">%s</p>' % esc(warning["message"]))
        out.append('<p><a href="%s.svg"><img src="%s.svg" alt="allocation map of %s"></a></p>' % (esc(file), esc(file), esc(host)))
        out.append('<p><a href="%s.txt">table</a> \u00b7 <a href="%s.json">JSON</a></p></div>' % (esc(file), esc(file)))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _anchor(host: str) -> str:
    return "host-" + quote(host, safe="")
