# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The metrics file: where it may be, and writing it so that node_exporter never reads half of it.

A new text goes to a temporary file in the same directory (a name node_exporter's `*.prom` glob does
not match), is fsynced, renamed over the file, and the directory is fsynced. When the file already
holds exactly these bytes nothing is written: the file, its inode and its mtime stay as they are.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from typing import Optional

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.prom$")
# Kernel file systems: a metrics file there is a mistake whatever the name.
_REFUSED_TREES = ("/proc", "/sys", "/dev")


class PathRefused(ValueError):
    """The path cannot be the metrics file; the message says why."""


def check_target(path: str) -> str:
    """The metrics file's path with its directory resolved; PathRefused unless `path` is absolute,
    names a file `<name>.prom` (letters, digits, `_`, `.`, `-`) in an existing directory outside
    /proc, /sys and /dev, and that name is absent or a regular file (never a symlink, which is not
    followed)."""
    if not isinstance(path, str) or not path:
        raise PathRefused("is not a path")
    if "\x00" in path:
        raise PathRefused("holds a NUL character")
    if not os.path.isabs(path):
        raise PathRefused("is not an absolute path")
    if path.endswith("/"):
        raise PathRefused("names a directory, not a file")
    directory, name = os.path.split(path)
    if not _FILE_NAME.match(name):
        raise PathRefused("must name a file <name>.prom (letters, digits, '_', '.', '-'), not %r" % name)
    real_dir = os.path.realpath(directory)
    if not os.path.isdir(real_dir):
        raise PathRefused("lies in %s, which is not an existing directory" % directory)
    for tree in _REFUSED_TREES:
        if real_dir == tree or real_dir.startswith(tree + "/"):
            raise PathRefused("lies in %s, a kernel file system" % real_dir)
    target = os.path.join(real_dir, name)
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise PathRefused("cannot be read: %s" % exc.strerror)
    if stat.S_ISLNK(info.st_mode):
        raise PathRefused("is a symlink (it is not followed)")
    if not stat.S_ISREG(info.st_mode):
        raise PathRefused("exists and is not a regular file")
    return target


def current_bytes(target: str) -> Optional[bytes]:
    """What the file holds now (None when absent), read without following a symlink."""
    try:
        handle = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    with os.fdopen(handle, "rb") as stream:
        return stream.read()


def would_change(target: str, data: bytes) -> bool:
    return current_bytes(target) != data


def write_atomic(target: str, data: bytes, mode: int = 0o644) -> bool:
    """Put `data` in `target` (checked by check_target) atomically; False, touching nothing, when it
    already holds exactly `data`."""
    if not would_change(target, data):
        return False
    directory, name = os.path.split(target)
    handle, temp = tempfile.mkstemp(prefix=".%s." % name, suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.rename(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    dir_handle = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(dir_handle)
    finally:
        os.close(dir_handle)
    return True
