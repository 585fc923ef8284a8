# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which Docker container a host process belongs to, and what a container's cgroup says it uses.

The container comes from the process's /proc/<pid>/cgroup text: cgroup v1 with the cgroupfs driver
(`/docker/<id>`), v1 or v2 with the systemd driver (`/system.slice/docker-<id>.scope`), Docker in
Docker (`/docker/<outer>/docker/<inner>`), and systemd inside a container (`.../<id>/init.scope`).
Usage comes from the container's own cgroup directory (not the Docker stats API, which takes a
second or two per container): CPU time from `cpuacct.usage` (v1) or `cpu.stat` (v2), memory in use
from `memory.stat` (anonymous memory and page cache less inactive file pages; kernel memory is not
counted). The hierarchies' mount points come from /proc/self/mountinfo.
"""

from __future__ import annotations

import os
import re
from typing import Dict, List, Optional, Tuple

_HEX_ID = re.compile(r"^[0-9a-f]{64}$")
_SCOPE_ID = re.compile(r"^docker-([0-9a-f]{64})\.scope$")
_OCTAL = re.compile(r"\\([0-7]{3})")
UNIFIED = ""  # the key of the cgroup v2 hierarchy in the maps below


def _component_id(parent: str, component: str) -> Optional[str]:
    """The container ID a path component names: `docker-<id>.scope`, or `<id>` below `docker`."""
    match = _SCOPE_ID.match(component)
    if match:
        return match.group(1)
    if parent == "docker" and _HEX_ID.match(component):
        return component
    return None


def _path_ids(path: str) -> List[Tuple[int, str]]:
    """(component position, container ID) of every Docker container in one cgroup path, outermost first."""
    parts = [p for p in path.split("/") if p]
    found: List[Tuple[int, str]] = []
    for position, component in enumerate(parts):
        container = _component_id(parts[position - 1] if position else "", component)
        if container:
            found.append((position, container))
    return found


def parse_proc_cgroup(text: str) -> Dict[str, str]:
    """/proc/<pid>/cgroup as {controller: path}: each v1 controller of a line (`cpu,cpuacct` gives both,
    `name=systemd` stays as it is) and UNIFIED for the v2 line (`0::/path`). Malformed lines are skipped."""
    paths: Dict[str, str] = {}
    for line in (text or "").splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3 or not fields[2].startswith("/"):
            continue
        hierarchy, controllers, path = fields
        if hierarchy == "0" and controllers == "":
            paths[UNIFIED] = path
            continue
        for controller in controllers.split(","):
            if controller:
                paths[controller] = path
    return paths


def container_ids(text: str) -> List[str]:
    """The Docker container IDs in a /proc/<pid>/cgroup text, innermost (deepest in any path) first,
    each once; [] for a process outside any Docker container (host processes, Kubernetes pods, other
    runtimes)."""
    depth: Dict[str, int] = {}
    for path in parse_proc_cgroup(text).values():
        for position, container in _path_ids(path):
            depth[container] = max(depth.get(container, -1), position)
    return sorted(depth, key=lambda container: (-depth[container], container))


def container_paths(text: str, container_id: str) -> Dict[str, str]:
    """{controller: the container's own cgroup path} from a process's /proc/<pid>/cgroup text: each path
    cut after the component naming `container_id` (so `/docker/<id>/init.scope` gives `/docker/<id>`).
    Controllers whose path does not name the container are left out."""
    found: Dict[str, str] = {}
    for controller, path in parse_proc_cgroup(text).items():
        parts = [p for p in path.split("/") if p]
        for position, container in _path_ids(path):
            if container == container_id:
                found[controller] = "/" + "/".join(parts[:position + 1])
                break
    return found


def parse_mountinfo(text: str) -> Dict[str, Tuple[str, str]]:
    """{controller: (root within the hierarchy, mount point)} of the cgroup mounts in a
    /proc/self/mountinfo text; UNIFIED for a cgroup2 mount. The first mount of a hierarchy wins."""
    mounts: Dict[str, Tuple[str, str]] = {}
    for line in (text or "").splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 3:
            continue
        root, point = _unescape(fields[3]), _unescape(fields[4])
        if tail[0] == "cgroup2":
            mounts.setdefault(UNIFIED, (root, point))
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                if option not in ("rw", "ro") and not option.startswith("release_agent=") and option not in ("noprefix", "clone_children", "xattr"):
                    mounts.setdefault(option, (root, point))
    return mounts


def _unescape(text: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), text)


class Usage(object):
    """What a container's cgroup says it used: CPU seconds since it started, memory in use (bytes).
    Either is None when its hierarchy could not be read."""

    def __init__(self, cpu_seconds: Optional[float], memory_bytes: Optional[int]) -> None:
        self.cpu_seconds = cpu_seconds
        self.memory_bytes = memory_bytes


class CgroupReader(object):
    """Reads containers' cgroups under `proc_root` (mount points read once, at the first use)."""

    def __init__(self, proc_root: str = "/proc") -> None:
        self.proc_root = proc_root
        self._mounts: Optional[Dict[str, Tuple[str, str]]] = None

    @property
    def mounts(self) -> Dict[str, Tuple[str, str]]:
        if self._mounts is None:
            self._mounts = parse_mountinfo(_read(os.path.join(self.proc_root, "self", "mountinfo")) or "")
        return self._mounts

    def proc_cgroup(self, pid: int) -> Optional[str]:
        return _read(os.path.join(self.proc_root, str(pid), "cgroup"))

    def container_of(self, pid: int, known: Dict[str, str]) -> Optional[str]:
        """The innermost container of `pid` that `known` ({container ID: anything}) holds; None for a
        process outside a known container or one that is gone."""
        text = self.proc_cgroup(pid)
        for container in container_ids(text or ""):
            if container in known:
                return container
        return None

    def directory(self, controller: str, path: str) -> Optional[str]:
        """Where a hierarchy's cgroup `path` lies on this host, or None when the hierarchy is not mounted."""
        if controller not in self.mounts:
            return None
        root, point = self.mounts[controller]
        if root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
            path = path[len(root.rstrip("/")):]
        return point.rstrip("/") + "/" + path.strip("/")

    def usage(self, pid: int, container_id: str) -> Usage:
        """The usage of container `container_id` whose process `pid` is (its first process, from inspect)."""
        paths = container_paths(self.proc_cgroup(pid) or "", container_id)
        return Usage(self._cpu_seconds(paths), self._memory_bytes(paths))

    def _cpu_seconds(self, paths: Dict[str, str]) -> Optional[float]:
        if "cpuacct" in paths and "cpuacct" in self.mounts:
            text = _read(os.path.join(self.directory("cpuacct", paths["cpuacct"]) or "", "cpuacct.usage"))
            if text is not None and text.strip().isdigit():
                return int(text) / 1e9
        if UNIFIED in paths and UNIFIED in self.mounts:
            stat = _keyed(_read(os.path.join(self.directory(UNIFIED, paths[UNIFIED]) or "", "cpu.stat")))
            if "usage_usec" in stat:
                return stat["usage_usec"] / 1e6
        return None

    def _memory_bytes(self, paths: Dict[str, str]) -> Optional[int]:
        """Anonymous memory and page cache less inactive file pages, from memory.stat (exact, unlike
        memory.usage_in_bytes and memory.current, which batch charges per CPU and include kernel memory
        that moves while the container is frozen)."""
        if "memory" in paths and "memory" in self.mounts:
            directory, keys = self.directory("memory", paths["memory"]), ("total_rss", "total_cache", "total_inactive_file")
        elif UNIFIED in paths and UNIFIED in self.mounts:
            directory, keys = self.directory(UNIFIED, paths[UNIFIED]), ("anon", "file", "inactive_file")
        else:
            return None
        stat = _keyed(_read(os.path.join(directory or "", "memory.stat")))
        if keys[0] not in stat or keys[1] not in stat:
            return None
        return max(0, stat[keys[0]] + stat[keys[1]] - stat.get(keys[2], 0))


def _keyed(text: Optional[str]) -> Dict[str, int]:
    """`key value` lines (cpu.stat, memory.stat) as a dict of the whole-number values."""
    values: Dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    return values


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None
