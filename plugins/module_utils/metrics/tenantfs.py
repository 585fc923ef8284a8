# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the refresh reads from a tenant's files, each in O(1):

- the data directory's use under its xfs project quota: on xfs mounted with project quotas, statfs of a
  directory tagged with a project (``xfs_quota project -s``, which sets the inherit flag) answers with the
  project's limit as the size and the project's use as size less free space (what ``df`` shows inside the
  container). The answer is used only when its size is the tenant's limit, so a directory whose quota is
  gone never reports the whole filesystem as the tenant's;
- the last login: the newest USER_PROCESS record among the last records of the container's
  ``/var/log/wtmp`` (written by sshd's login recording), opened through ``/proc/<pid>/root`` one path
  component at a time without following symbolic links, and only when it is a regular file, so a tenant
  cannot point the (root) refresh at another file of the host or at a FIFO.
"""

from __future__ import annotations

import os
import stat
import struct
from typing import Any, Callable, Optional

# struct utmp of glibc on 64-bit Linux (x86_64, aarch64): 384 bytes; ut_type at 0, ut_tv.tv_sec at 340.
UTMP_SIZE = 384
UTMP_TYPE = struct.Struct("<h")
UTMP_TV_SEC_OFFSET = 340
UTMP_TV_SEC = struct.Struct("<i")
USER_PROCESS = 7
WTMP_TAIL_RECORDS = 256
WTMP_PATH = ("var", "log", "wtmp")


def newest_login(data: bytes) -> Optional[int]:
    """The newest login time (seconds since the epoch) among whole utmp records in `data`, None without one."""
    newest: Optional[int] = None
    for start in range(len(data) % UTMP_SIZE, len(data) - UTMP_SIZE + 1, UTMP_SIZE):
        if UTMP_TYPE.unpack_from(data, start)[0] != USER_PROCESS:
            continue
        seconds = UTMP_TV_SEC.unpack_from(data, start + UTMP_TV_SEC_OFFSET)[0]
        if seconds > 0 and (newest is None or seconds > newest):
            newest = seconds
    return newest


def _open_confined(root: str, parts: tuple) -> Optional[int]:
    """A read-only descriptor of root/parts[0]/... with no symbolic link followed, for a regular file only."""
    fds = []
    try:
        fds.append(os.open(root, os.O_RDONLY | os.O_DIRECTORY))
        for part in parts[:-1]:
            fds.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fds[-1]))
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fds[-1])
    except OSError:
        return None
    finally:
        for opened in fds:
            os.close(opened)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


class TenantFiles(object):
    """Reads tenants' data quota use and last login under `proc_root` (a test points both elsewhere)."""

    def __init__(self, proc_root: str = "/proc", statvfs: Callable[[str], Any] = os.statvfs) -> None:
        self.proc_root = proc_root
        self.statvfs = statvfs

    def data_used(self, path: str, limit: Optional[int]) -> Optional[int]:
        """Bytes used under the project quota of data directory `path` with limit `limit`; None when unknown."""
        if not path or not limit or not os.path.isabs(path):
            return None
        try:
            fs = self.statvfs(path)
        except OSError:
            return None
        block = int(fs.f_frsize or fs.f_bsize or 0)
        if block <= 0 or abs(int(fs.f_blocks) * block - int(limit)) >= 2 * block:
            return None  # not the project's answer: no quota on the directory, or a limit above the filesystem
        return max(int(fs.f_blocks) - int(fs.f_bfree), 0) * block

    def last_login(self, pid: int) -> Optional[int]:
        """The container's newest login from its wtmp (container init `pid`), None when none is recorded."""
        if pid <= 0:
            return None
        fd = _open_confined(os.path.join(self.proc_root, str(pid), "root"), WTMP_PATH)
        if fd is None:
            return None
        try:
            size = os.fstat(fd).st_size
            whole = size - size % UTMP_SIZE
            start = max(whole - WTMP_TAIL_RECORDS * UTMP_SIZE, 0)
            os.lseek(fd, start, os.SEEK_SET)
            data = os.read(fd, whole - start)
        except OSError:
            return None
        finally:
            os.close(fd)
        return newest_login(data)
