# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one way this collection's modules reach Docker: which daemon (the option, else
DOCKER_HOST, else the local socket), the timeout, API version negotiation, and a failure to
connect turned into a message that names the daemon."""

from __future__ import annotations

import os
from typing import Any, Optional

DEFAULT_HOST = "unix:///var/run/docker.sock"


class DockerUnreachable(Exception):
    """The daemon could not be reached (or the address is malformed)."""

    def __init__(self, base_url: str, reason: str) -> None:
        self.base_url = base_url
        self.reason = reason
        super(DockerUnreachable, self).__init__("%s cannot be reached: %s" % (base_url, reason))


def resolve_host(docker_host: Optional[str] = None) -> str:
    return docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def connect(docker_host: Optional[str] = None, timeout: int = 120, low_level: bool = False) -> Any:
    """A Docker SDK client (DockerClient, or APIClient with low_level) for the resolved daemon."""
    import docker  # the modules report a missing SDK themselves, before they get here
    base_url = resolve_host(docker_host)
    try:
        if low_level:
            return docker.APIClient(base_url=base_url, version="auto", timeout=timeout)
        return docker.DockerClient(base_url=base_url, version="auto", timeout=timeout)
    except (docker.errors.DockerException, ValueError, OSError) as exc:
        raise DockerUnreachable(base_url, str(exc))
