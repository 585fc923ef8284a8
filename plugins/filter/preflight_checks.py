# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight role's verdicts, computed from what its tasks read (no program in Jinja)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: preflight_checks
short_description: Turn what gpulab.dgx.preflight read from a host into its list of checks
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Takes the readings of the P(gpulab.dgx.preflight#role) role (NVIDIA facts, the result of
    community.docker.docker_host_info, the cgroup probe, the kernel, findmnt results) and its
    settings, and returns every check as C({check, status, detail, line}); status is C(OK), C(INFO), C(WARN) or C(FAIL).
options:
  _input:
    description: A dict with C(nvidia), C(docker), C(cgroup2), C(kernel), C(distribution), C(distribution_version),
      C(findmnt) (the registered loop results) and C(settings) (the role's preflight_* values, without the prefix).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Evaluate the checks
  ansible.builtin.set_fact:
    preflight_checks: "{{ readings | gpulab.dgx.preflight_checks }}"
"""

RETURN = r"""
_value:
  description: The checks, in report order.
  type: list
  elements: dict
"""

import json
import re

from ansible.module_utils.compat.version import LooseVersion
from ansible.module_utils.parsing.convert_bool import boolean

GIB = 1024 ** 3


def _at_least(version, minimum):
    return LooseVersion(str(version)) >= LooseVersion(str(minimum))


class Checks(object):
    """The report being built: add() keeps the order and renders each line."""

    def __init__(self):
        self.items = []

    def add(self, check, status, detail):
        self.items.append({"check": check, "status": status, "detail": detail,
                           "line": "%-4s %s: %s" % (status, check, detail)})


def _gpus(out, nv, s, bad):
    if not nv.get("available"):
        out.add("gpus", bad, "no GPU visible (%s): %s" % (nv.get("source"), nv.get("error")))
        return
    gpus = nv.get("gpus") or []
    names = ", ".join(sorted(set(g.get("name") for g in gpus), key=[g.get("name") for g in gpus].index))
    detail = "%s x %s (%s)" % (nv.get("gpu_count"), names, nv.get("source"))
    if int(nv.get("gpu_count") or 0) < int(s["gpu_count_min"]):
        out.add("gpus", bad, "%s; at least %s expected (preflight_gpu_count_min)" % (detail, s["gpu_count_min"]))
    else:
        out.add("gpus", "OK", detail)
    minimum = str(s.get("driver_min_version") or "")
    if minimum and not _at_least(nv.get("driver_version"), minimum):
        out.add("driver", bad, "%s, older than %s (preflight_driver_min_version)" % (nv.get("driver_version"), minimum))
    else:
        out.add("driver", "OK", nv.get("driver_version"))
    off = [str(g["index"]) for g in gpus if not g.get("persistence_mode")]
    if not off:
        out.add("persistence mode", "OK", "on for every GPU")
    else:
        out.add("persistence mode", bad if boolean(s["require_persistence_mode"]) else "WARN",
                "off on GPU %s: enable nvidia-persistenced (systemctl enable --now nvidia-persistenced)" % ",".join(off))
    mig = [str(g["index"]) for g in gpus if g.get("mig_mode")]
    if mig:
        out.add("mig", "INFO", "MIG mode on for GPU %s" % ",".join(mig))


def _cuda(out, nv, s, bad):
    wanted, unreadable = [], []
    for item in s.get("cuda_versions_required") or []:
        text = str(item)
        tag = text.rsplit(":", maxsplit=1)[-1]
        match = re.match(r"[0-9]+\.[0-9]+", tag)
        (wanted.append(match.group(0)) if match else unreadable.append(text))
    have = nv.get("cuda_version")
    if unreadable:
        out.add("cuda", "FAIL", "no CUDA version can be read from %s (preflight_cuda_versions_required takes versions "
                "like 12.4 or nvidia/cuda:<version>-... images)" % ", ".join(unreadable))
    elif not wanted:
        out.add("cuda", "INFO", "driver supports CUDA %s; no tenant CUDA version to compare "
                "(preflight_cuda_versions_required)" % (have or "unknown"))
    else:
        top = max(wanted, key=LooseVersion)
        if not have:
            out.add("cuda", bad, "the driver reports no CUDA version; tenant images ask for up to CUDA %s" % top)
        elif _at_least(have, top):
            out.add("cuda", "OK", "driver supports CUDA %s >= %s (highest asked for)" % (have, top))
        else:
            too_new = [v for v in sorted(set(wanted), key=wanted.index) if LooseVersion(v) > LooseVersion(str(have))]
            out.add("cuda", bad, "driver supports up to CUDA %s but tenant images ask for %s: update the driver or "
                    "use older images" % (have, ", ".join(too_new)))


def _docker(out, docker, s):
    # community.docker.docker_host_info's result: can_talk_to_docker, host_info, msg.
    version = str((docker.get("host_info") or {}).get("ServerVersion") or "").strip()
    if docker.get("can_talk_to_docker") and version:
        if _at_least(version, s["docker_min_version"]):
            out.add("docker", "OK", "Docker Engine %s" % version)
        else:
            out.add("docker", "FAIL", "Docker Engine %s is older than %s (preflight_docker_min_version; --gpus needs "
                    "19.03)" % (version, s["docker_min_version"]))
        return
    msg = str(docker.get("msg") or "").strip()
    if re.search(r"import the required Python library \(requests\)", msg):
        why = "the host's Python lacks requests (python3-requests), with which Docker's API is read"
    elif re.search(r"FileNotFoundError|No such file or directory", msg):
        why = "nothing listens on Docker's socket: Docker is not installed or not running"
    else:
        why = msg.splitlines()[0] if msg else "no answer"
    out.add("docker", "FAIL" if boolean(s["require_docker"]) else "INFO", "no Docker Engine answers (%s)" % why)


def _kernel(out, readings, s):
    kernel = readings.get("kernel") or ""
    match = re.match(r"[0-9]+(\.[0-9]+)*", kernel)
    minimum = str(s.get("kernel_min_version") or "")
    if minimum and not (match and _at_least(match.group(0), minimum)):
        out.add("kernel", "FAIL", "%s, older than %s (preflight_kernel_min_version)" % (kernel, minimum))
    else:
        out.add("kernel", "OK", "%s (%s %s)" % (kernel, readings.get("distribution") or "",
                                                readings.get("distribution_version") or ""))
    out.add("cgroup", "INFO", "v2 (unified)" if readings.get("cgroup2") else "v1")


def _filesystems(out, results):
    for result in results or []:
        want = result["item"]
        name = "filesystem %s" % want["path"]
        if result.get("rc", 1) != 0:
            out.add(name, "FAIL" if boolean(want.get("required", True)) else "WARN",
                    "not found: %s" % ((result.get("stderr") or "").strip() or "the path does not exist"))
            continue
        fs = json.loads(result["stdout"])["filesystems"][-1]
        options = fs["options"].split(",")
        free_gib = round(int(fs["avail"]) / float(GIB), 1)
        detail = "%s %s on %s, %s GiB free" % (fs["fstype"], fs["source"], fs["target"], free_gib)
        problems = []
        if "fstype" in want and fs["fstype"] != want["fstype"]:
            problems.append("filesystem type is %s, not %s" % (fs["fstype"], want["fstype"]))
        missing = [o for o in want.get("options") or [] if o not in options]
        if missing:
            problems.append("mount options lack %s" % ",".join(missing))
        if "min_free_gib" in want and free_gib < float(want["min_free_gib"]):
            problems.append("less than %s GiB free" % want["min_free_gib"])
        out.add(name, "FAIL" if problems else "OK", detail + (": " + "; ".join(problems) if problems else ""))


def preflight_checks(readings):
    """Every check of the preflight report, in order."""
    settings = readings["settings"]
    nv = readings.get("nvidia") or {}
    bad = "FAIL" if boolean(settings["require_gpus"]) else "WARN"
    out = Checks()
    _gpus(out, nv, settings, bad)
    _cuda(out, nv, settings, bad)
    _docker(out, readings.get("docker") or {}, settings)
    _kernel(out, readings, settings)
    _filesystems(out, readings.get("findmnt"))
    return out.items


class FilterModule(object):

    def filters(self):
        return {"preflight_checks": preflight_checks}
