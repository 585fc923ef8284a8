# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where tenant data may live, and how it is removed.

Every tenant's directory is `<data_base>/<name>`. The base is an absolute path without symlinks
that is not a system directory; a data directory never equals, contains or lies inside another
tenant's recorded directory or a bind mount of a container that is not a tenant. Removal walks
the tree through opened directory descriptors with O_NOFOLLOW, so a symlink planted inside (or in
place of) the directory can never redirect it, and it never crosses into another filesystem.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Iterable, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.common.paths import inside, overlaps
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError

# The base may be neither these nor anything inside them.
SYSTEM_TREES = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/lost+found", "/proc",
    "/root", "/run", "/sbin", "/snap", "/sys", "/usr", "/var/lib/containerd", "/var/lib/docker",
    "/var/run", "/var/lib/dpkg", "/var/lib/apt", "/var/cache", "/var/log", "/var/spool",
)
# The base may lie inside these, but not be one of them (its children are other people's).
SHARED_DIRS = ("/", "/home", "/mnt", "/media", "/opt", "/raid", "/srv", "/tmp", "/var", "/var/lib", "/var/tmp")
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _symlink_or_nondir(path: str) -> Optional[str]:
    """Why `path` (an absolute, normalised path) cannot hold tenant data, or None. Missing
    trailing components are fine: they will be created as plain directories."""
    current = "/"
    for part in [p for p in path.split("/") if p]:
        current = os.path.join(current, part)
        try:
            info = os.lstat(current)
        except OSError as exc:
            if exc.errno in (errno.ENOENT,):
                return None
            return "cannot be inspected at %s: %s" % (current, exc.strerror)
        if stat.S_ISLNK(info.st_mode):
            return "has a symlink at %s (to %s); give the real path" % (current, os.readlink(current))
        if not stat.S_ISDIR(info.st_mode):
            return "has %s, which is not a directory" % current
    return None


def check_base(field: str, base: str) -> str:
    """The data base, confined: absolute, normalised, no symlink, not a system path."""
    if not base.startswith("/"):
        raise SpecError(field, base, "is not an absolute path")
    norm = os.path.normpath(base)
    if norm != base.rstrip("/") and base != "/":
        raise SpecError(field, base, "is not a normalised absolute path (no '.', '..' or '//')")
    for tree in SYSTEM_TREES:
        if inside(norm, tree):
            raise SpecError(field, base, "is or lies inside %s, a system directory" % tree)
    if norm in SHARED_DIRS or os.path.dirname(norm) == "/home":
        raise SpecError(field, base, "is a shared or home directory; use a directory of its own such as "
                        "/raid/gpulab/tenants")
    why = _symlink_or_nondir(norm)
    if why:
        raise SpecError(field, base, why)
    return norm


def check_tenant_dir(field: str, path: str) -> None:
    why = _symlink_or_nondir(path)
    if why:
        raise SpecError(field, path, why)


def check_no_overlap(field: str, path: str, tenant_dirs: Iterable[Tuple[str, str]],
                     foreign_mounts: Iterable[Tuple[str, str, bool]], what: str = "data directory") -> None:
    """Refuse `path` when it equals, contains or lies inside another tenant's recorded directory,
    or a bind mount source of a non-tenant container (lying inside counts for writable mounts
    of anything but `/`: monitoring agents mount the root read-only)."""
    for other, recorded in tenant_dirs:
        real = os.path.realpath(recorded)
        if overlaps(path, real):
            raise SpecError(field, path, "overlaps tenant %s's data directory %s; tenant %s directory "
                            "must be apart from every other tenant's" % (other, real, what))
    for container, source, writable in foreign_mounts:
        real = os.path.realpath(source)
        if inside(real, path) or (writable and real != "/" and inside(path, real)):
            raise SpecError(field, path, "overlaps %s, which container %s (not a tenant) mounts%s"
                            % (real, container, "" if writable else " read-only"))


def make_dirs(path: str, mode: int = 0o750) -> List[str]:
    """Create `path` and its missing parents (never through a symlink); return what was created,
    deepest last, so that an undo removes them in reverse."""
    created: List[str] = []
    current = "/"
    parts = [p for p in path.split("/") if p]
    for index, part in enumerate(parts):
        current = os.path.join(current, part)
        try:
            os.mkdir(current, mode if index == len(parts) - 1 else 0o755)
            created.append(current)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            info = os.lstat(current)
            if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
                raise OSError(errno.ENOTDIR, "not a plain directory", current)
    return created


def _open_dir_nofollow(path: str) -> int:
    """Open an absolute directory path one component at a time, refusing any symlink."""
    fd = os.open("/", DIR_FLAGS)
    try:
        for part in [p for p in path.split("/") if p]:
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except OSError:
        os.close(fd)
        raise
    return fd


def _clear(fd: int, device: int) -> None:
    with os.scandir(fd) as entries:
        names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
    for name, is_dir in names:
        if is_dir:
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
            try:
                if os.fstat(child).st_dev != device:
                    raise OSError(errno.EXDEV, "is a mount point; not removing across filesystems", name)
                _clear(child, device)
            finally:
                os.close(child)
            os.rmdir(name, dir_fd=fd)
        else:
            os.unlink(name, dir_fd=fd)


def remove_tree(path: str) -> None:
    """Remove the directory `path` and everything in it without following any symlink."""
    parent, name = os.path.split(path.rstrip("/"))
    parent_fd = _open_dir_nofollow(parent)
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        try:
            _clear(fd, os.fstat(fd).st_dev)
        finally:
            os.close(fd)
        os.rmdir(name, dir_fd=parent_fd)
    finally:
        os.close(parent_fd)


def fsync_dir(path: str) -> None:
    fd = os.open(path, DIR_FLAGS)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
