# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The commands the burn-in runs on the host: nvidia-smi through the collection's one nvidia-smi runner,
anything else (dcgmi) under a timeout that kills it, since `dcgmi diag` can hang on a bad GPU."""

from __future__ import annotations

import os
import subprocess
from typing import Any, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import NvidiaSmiError, nvidia_smi_runner


def command_runner(module: Any):
    """runner(argv, timeout) -> (exit status or None, stdout, stderr, timed out)."""
    smi = nvidia_smi_runner(module)

    def runner(argv: List[str], timeout: int) -> Tuple[Optional[int], str, str, bool]:
        if argv[0] == "nvidia-smi":
            try:
                status, out, err = smi(argv[1:])
            except NvidiaSmiError as exc:
                return None, "", str(exc), False
            return status, out, err, False
        executable = module.get_bin_path(argv[0])
        if not executable:
            return None, "", "%s was not found on the host" % argv[0], False
        try:
            done = subprocess.run([executable] + list(argv[1:]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                                  env=dict(os.environ, LC_ALL="C"), universal_newlines=True, check=False)
        except subprocess.TimeoutExpired as exc:
            return None, _text(exc.stdout), _text(exc.stderr), True
        return done.returncode, done.stdout, done.stderr, False

    return runner


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
