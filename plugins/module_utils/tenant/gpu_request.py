# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What kind of GPU a tenant asks for: dedicated whole GPUs (`gpus: N`), MIG instances (`mig: {profile, count}`)
or shared whole GPUs (`gpu_share: {gpus: N, mode: time-slice}`), one kind only; checked before anything changes."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.common.errors import FieldError
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import MAX_INSTANCES, PROFILE_RE

MIG_KEYS = ("profile", "count")
SHARE_KEYS = ("gpus", "mode")
SHARE_MODES = ("time-slice",)


def check_mig(value: Any, gpus: int) -> Optional[Tuple[str, int]]:
    """`mig` as (profile, count), or None when not asked. Raises FieldError naming mig and the value."""
    if value is None:
        return None
    _check_keys("mig", value, MIG_KEYS, "profile (e.g. 1g.10gb) and count")
    profile = value.get("profile")
    if not isinstance(profile, str) or not PROFILE_RE.match(profile):
        raise FieldError("mig.profile", profile, "is not a MIG profile name such as 1g.10gb or 3g.40gb "
                         "(nvidia-smi mig -lgip lists a GPU's)")
    count = _count("mig.count", value.get("count", 1), MAX_INSTANCES)
    if gpus:
        raise FieldError("mig", "%s x%d" % (profile, count), "cannot be combined with gpus %d: a tenant gets "
                         "whole GPUs or MIG instances" % gpus)
    return profile, count


def check_share(value: Any, gpus: int, mig: Optional[Tuple[str, int]]) -> Optional[Tuple[int, str]]:
    """`gpu_share` as (GPU count, mode), or None when not asked. Raises FieldError naming gpu_share and the value."""
    if value is None:
        return None
    _check_keys("gpu_share", value, SHARE_KEYS, "gpus (how many shared GPUs) and mode (time-slice)")
    count = _count("gpu_share.gpus", value.get("gpus", 1), 64)
    mode = value.get("mode", "time-slice")
    if mode == "mps":
        raise FieldError("gpu_share.mode", mode, "is not offered: MPS needs --ipc=host and the MPS daemon's user shared "
                         "with every client (docs/gpu-sharing.md); use time-slice or MIG instances")
    if mode not in SHARE_MODES:
        raise FieldError("gpu_share.mode", mode, "is not one of %s" % ", ".join(SHARE_MODES))
    if gpus or mig:
        raise FieldError("gpu_share", "%d %s" % (count, mode), "cannot be combined with %s: a tenant gets dedicated GPUs, "
                         "MIG instances or shared GPUs" % ("gpus %d" % gpus if gpus else "mig"))
    return count, mode


def _check_keys(field: str, value: Any, keys: Tuple[str, ...], shape: str) -> None:
    """`value` is a dict of `keys` only; FieldError naming `field` otherwise."""
    if not isinstance(value, dict):
        raise FieldError(field, value, "must be a dict with %s" % shape)
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        raise FieldError(field, ",".join(unknown), "is not a %s key (known: %s)" % (field, ", ".join(keys)))


def _count(field: str, value: Any, most: int) -> int:
    """A whole number from 1 to `most` (digits in a string too, as YAML or -e may give them)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise FieldError(field, value, "must be a whole number from 1 to %d" % most)
    return value
