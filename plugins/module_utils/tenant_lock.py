# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host-wide lock around read-ledger / place / create, so concurrent rollouts never collide."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import errno
import fcntl
import os
import time
from typing import Any, Optional

DEFAULT_LOCK_PATH = "/run/lock/gpulab-tenant.lock"


class LockTimeout(RuntimeError):
    """The lock stayed held by another rollout for longer than the timeout."""


class HostLock(object):
    """An exclusive `flock` on a file shared by every tenant rollout on this host.

    The kernel drops the lock when the holder exits, so a crashed rollout cannot wedge the host.
    Waiting polls with a short back-off (flock has no timeout of its own).
    """

    def __init__(self, path=DEFAULT_LOCK_PATH, timeout=300.0):
        # type: (str, float) -> None
        self.path = path
        self.timeout = timeout
        self._fd = None  # type: Optional[int]
        self.waited = 0.0

    def __enter__(self):
        # type: () -> HostLock
        directory = os.path.dirname(self.path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        start = time.monotonic()
        pause = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
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
        self.waited = time.monotonic() - start
        self._fd = fd
        return self

    def __exit__(self, *exc_info):
        # type: (*Any) -> None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
