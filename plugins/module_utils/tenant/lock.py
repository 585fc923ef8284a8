# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host-wide lock around read-ledger / place / create, so concurrent rollouts never collide."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from typing import Any, List, Optional

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.paths import make_dirs
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError

DEFAULT_LOCK_PATH = "/run/lock/gpulab-tenant.lock"


class LockTimeout(RuntimeError):
    """The lock stayed held by another rollout for longer than the timeout."""


class HostLock(object):
    """An exclusive `flock` on a file shared by every tenant rollout on this host.

    The kernel drops the lock when the holder exits, so a crashed rollout cannot wedge the host.
    Waiting polls with a short back-off (flock has no timeout of its own).

    When a rollout that created the lock file (or its directory) fails, `discard()` removes them
    while still holding the lock; every holder checks after locking that the file it locked is
    still the one at the path, and starts over when it is not, so no two rollouts hold it at once.
    Any OS error is a SpecError naming `lock_path`.
    """

    def __init__(self, path: str = DEFAULT_LOCK_PATH, timeout: float = 300.0, create: bool = True) -> None:
        self.path = path
        # Check mode changes nothing: with create=False a missing lock file (no rollout ever ran
        # here, none runs now) is not created and nothing is locked.
        self.create = create
        self.timeout = timeout
        self._fd: Optional[int] = None
        self.waited = 0.0
        self.created: List[str] = []

    def _fail(self, exc: OSError) -> SpecError:
        return SpecError("lock_path", self.path, "cannot be used as the rollout lock: %s"
                         % (exc.strerror or exc))

    def _open(self) -> int:
        directory = os.path.dirname(self.path)
        if directory and not os.path.isdir(directory):
            self.created.extend(make_dirs(directory, 0o755))
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | getattr(os, "O_CLOEXEC", 0), 0o600)
            self.created.append(self.path)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(errno.EINVAL, "not a regular file")
        return fd

    def _still_ours(self, fd: int) -> bool:
        try:
            here = os.stat(self.path)
        except OSError:
            return False
        mine = os.fstat(fd)
        return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)

    def __enter__(self) -> HostLock:
        start = time.monotonic()
        pause = 0.01
        if not self.create and not os.path.lexists(self.path):
            return self
        try:
            fd = self._open()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    if self._still_ours(fd):
                        break
                    os.close(fd)  # removed by a failed rollout while we waited: take the new one
                    fd = self._open()
                    continue
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        os.close(fd)
                        raise
                if time.monotonic() - start >= self.timeout:
                    os.close(fd)
                    raise LockTimeout("another tenant rollout has held %s for more than %.0f s"
                                      % (self.path, self.timeout))
                time.sleep(pause)
                pause = min(pause * 2, 0.2)
        except OSError as exc:
            self.discard()
            raise self._fail(exc)
        self.waited = time.monotonic() - start
        self._fd = fd
        return self

    def discard(self) -> List[str]:
        """Remove the lock file and directories this rollout created (call while holding it)."""
        removed: List[str] = []
        for path in reversed(self.created):
            try:
                if path == self.path:
                    os.unlink(path)
                else:
                    os.rmdir(path)
                removed.append(path)
            except OSError:
                pass  # another rollout uses the directory now: it stays
        self.created = []
        return removed

    def __exit__(self, *exc_info: Any) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
