# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Disk limits: `--storage-opt size` on the container's root filesystem and an xfs project
quota of the same size on the tenant's data directory.

Both need xfs mounted with project quotas (`pquota`/`prjquota`); the storage option needs
Docker's overlay2 driver on such a filesystem. Detection reads `docker info` and
/proc/self/mountinfo; the xfs_quota command lines are built by pure functions.
"""

from __future__ import annotations

import os
import zlib
from typing import Any, Dict, Iterable, List, Optional, Tuple

QUOTA_OPTIONS = ("prjquota", "pquota", "pqnoenforce")
ENFORCING_QUOTA_OPTIONS = ("prjquota", "pquota")
PROJECT_ID_BASE = 0x47500000  # "GP" in the high bytes keeps tenant projects apart from others


class Mount(object):
    """One line of /proc/self/mountinfo: where, what filesystem, with which options."""

    def __init__(self, mountpoint: str, fstype: str, source: str, options: List[str]) -> None:
        self.mountpoint = mountpoint
        self.fstype = fstype
        self.source = source
        self.options = options

    def has_project_quota(self) -> bool:
        return self.fstype == "xfs" and any(o in ENFORCING_QUOTA_OPTIONS for o in self.options)


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def parse_mountinfo(text: str) -> List[Mount]:
    mounts: List[Mount] = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 6 or len(tail) < 3:
            continue
        options = fields[5].split(",") + tail[2].split(",")
        mounts.append(Mount(_unescape(fields[4]), tail[0], tail[1], options))
    return mounts


def mount_for(path: str, mounts: Iterable[Mount]) -> Optional[Mount]:
    """The mount holding `path` (the last, longest matching mount point wins, as the kernel does)."""
    path = os.path.normpath(path)
    best: Optional[Mount] = None
    for mount in mounts:
        point = mount.mountpoint.rstrip("/") or "/"
        if path == point or path.startswith(point + "/") or point == "/":
            if best is None or len(point) >= len(best.mountpoint.rstrip("/") or "/"):
                best = mount
    return best


def driver_status(info: Dict[str, Any]) -> Dict[str, str]:
    return dict((str(k), str(v)) for k, v in (info.get("DriverStatus") or []))


def storage_opt_support(info: Dict[str, Any], mounts: List[Mount]) -> Tuple[bool, str]:
    """Can Docker enforce `--storage-opt size`? Returns (ok, reason when not)."""
    driver = info.get("Driver") or "?"
    backing = driver_status(info).get("Backing Filesystem", "?")
    root = info.get("DockerRootDir") or "/var/lib/docker"
    if driver != "overlay2":
        return False, "Docker's storage driver is %s, not overlay2" % driver
    if backing != "xfs":
        return False, "Docker's data root %s is on %s, not xfs" % (root, backing)
    mount = mount_for(root, mounts)
    if mount is None or not mount.has_project_quota():
        return False, ("Docker's data root %s is on xfs mounted without pquota/prjquota (options: %s)"
                       % (root, ",".join(mount.options) if mount else "unknown"))
    return True, ""


def data_quota_support(path: str, mounts: List[Mount]) -> Tuple[bool, str, Optional[Mount]]:
    """Can an xfs project quota limit `path`? Returns (ok, reason when not, its mount)."""
    mount = mount_for(path, mounts)
    if mount is None:
        return False, "no mount found for %s" % path, None
    if mount.fstype != "xfs":
        return False, "%s is on %s (%s), not xfs" % (path, mount.mountpoint, mount.fstype), mount
    if not mount.has_project_quota():
        return False, "%s is on xfs %s mounted without pquota/prjquota" % (path, mount.mountpoint), mount
    return True, "", mount


def project_id(name: str, taken: Iterable[int] = ()) -> int:
    """A stable xfs project id for the tenant, skipping ids other tenants hold."""
    used = set(taken)
    pid = PROJECT_ID_BASE + zlib.crc32(name.encode("utf-8")) % 0x100000
    while pid in used:
        pid += 1
    return pid


def quota_set_commands(mountpoint: str, path: str, pid: int, size_bytes: int) -> List[List[str]]:
    """xfs_quota runs that tag `path` with project `pid` and cap it at `size_bytes` (hard limit)."""
    return [
        ["xfs_quota", "-x", "-c", "project -s -p %s %d" % (path, pid), mountpoint],
        ["xfs_quota", "-x", "-c", "limit -p bhard=%d %d" % (size_bytes, pid), mountpoint],
    ]


def quota_clear_commands(mountpoint: str, path: str, pid: int) -> List[List[str]]:
    """xfs_quota runs that lift the limit and untag `path` (before its data is purged)."""
    return [
        ["xfs_quota", "-x", "-c", "limit -p bhard=0 %d" % pid, mountpoint],
        ["xfs_quota", "-x", "-c", "project -C -p %s %d" % (path, pid), mountpoint],
    ]


def read_mounts(path: str = "/proc/self/mountinfo") -> List[Mount]:
    with open(path) as handle:
        return parse_mountinfo(handle.read())
