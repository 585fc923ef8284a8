# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What dpkg knows of packages: one dpkg-query call, parsed into names, versions and states.
dpkg-query needs no python3-apt (which a minimal host lacks), unlike package_facts."""

from __future__ import annotations

import re
from typing import Dict, List, Optional

# One line per package: name, version, selection (want), status. Tabs cannot occur in any of them.
SHOWFORMAT = "${Package}\t${Version}\t${db:Status-Want}\t${db:Status-Status}\n"
EPOCH_RE = re.compile(r"^[0-9]+:")
REVISION_RE = re.compile(r"-[^-]*$")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?")


def valid_name(name: str) -> bool:
    """A Debian package name (policy 5.6.1), optionally qualified with an architecture."""
    return NAME_RE.fullmatch(name) is not None


def query_argv(names: Optional[List[str]] = None) -> List[str]:
    return ["dpkg-query", "--show", "--showformat=" + SHOWFORMAT] + list(names or [])


def upstream_version(version: str) -> str:
    """The version without epoch and Debian revision: 1:535.183.01-1~deb12u1 -> 535.183.01."""
    return REVISION_RE.sub("", EPOCH_RE.sub("", version)) if version else ""


def parse(text: str) -> Dict[str, Dict[str, str]]:
    """{name: {version, upstream_version, want, status}} from dpkg-query output in SHOWFORMAT.
    A package listed with an empty status (known to dpkg only as "not installed") is kept."""
    packages: Dict[str, Dict[str, str]] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 4 or not fields[0]:
            continue
        name, version, want, status = fields
        packages[name] = {"version": version, "upstream_version": upstream_version(version),
                          "want": want, "status": status}
    return packages


def installed(packages: Dict[str, Dict[str, str]]) -> Dict[str, str]:
    """{name: version} of the packages whose status is installed."""
    return {name: p["version"] for name, p in sorted(packages.items()) if p["status"] == "installed"}
