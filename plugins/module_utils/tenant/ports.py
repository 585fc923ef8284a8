# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SSH port choice: the tenant's own port when it has one, else a stable pick from a range."""

from __future__ import annotations

import errno
import socket
import zlib
from typing import Callable, Iterable, Optional, Set, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError


def port_is_bindable(address: str, port: int) -> bool:
    """True when nothing on this host listens on address:port (a test bind, closed at once)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise SpecError("ssh_bind_address", address, "cannot be used on this host: %s" % (exc.strerror or exc))
    try:
        sock.bind((address, port))
        return True
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise SpecError("ssh_bind_address", address, "cannot be bound on this host (port %d: %s); give an "
                        "address of one of its interfaces" % (port, exc.strerror or exc))
    finally:
        sock.close()


def preferred_port(name: str, port_range: Tuple[int, int]) -> int:
    """The first port tried for `name`: stable across runs and hosts (CRC32 of the name)."""
    low, high = port_range
    return low + zlib.crc32(name.encode("utf-8")) % (high - low + 1)


def choose_port(name: str, requested: Optional[int], current: Optional[int], port_range: Tuple[int, int], taken: Set[int], bind_address: str,
                bindable: Callable[[str, int], bool] = port_is_bindable) -> int:
    """Pick the tenant's SSH port.

    `taken`: ports published by other containers on this daemon. `current`: the port the tenant's
    own container holds now (kept across re-creation; not test-bound, since it is ours).
    A requested port that is taken or bound on the host fails, naming it.
    """
    if requested is not None:
        if requested in taken:
            raise SpecError("ssh_port", requested, "is already published by another container")
        if requested != current and not bindable(bind_address, requested):
            raise SpecError("ssh_port", requested, "is in use on %s on this host" % bind_address)
        return requested
    if current is not None and current not in taken:
        return current
    low, high = port_range
    size = high - low + 1
    first = preferred_port(name, port_range)
    for step in range(size):
        port = low + (first - low + step) % size
        if port in taken:
            continue
        if bindable(bind_address, port):
            return port
    raise SpecError("ssh_port_range", "%d-%d" % port_range, "has no free port left")


def published_ports(port_bindings: Optional[dict]) -> Iterable[int]:
    """Host ports in a HostConfig.PortBindings mapping."""
    for bindings in (port_bindings or {}).values():
        for binding in bindings or []:
            text = (binding or {}).get("HostPort") or ""
            if text.isdigit():
                yield int(text)
