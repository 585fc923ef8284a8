# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What kind of GPU a tenant asks for: dedicated whole GPUs (`gpus: N`), MIG instances (`mig: {profile, count}`)
or shared whole GPUs (`gpu_share: {gpus: N, mode: time-slice}`), one kind only; checked before anything changes."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.common.errors import FieldError
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import PROFILE_RE
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig_placement import MAX_INSTANCES

MIG_KEYS = ("profile", "count")
SHARE_KEYS = ("gpus", "mode")
SHARE_MODES = ("time-slice",)


def check_mig(value: Any, gpus: int) -> Optional[Tuple[str, int]]:
    """`mig` as (profile, count), or None when not asked. Raises FieldError naming mig and the value."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldError("mig", value, "must be a dict with profile (e.g. 1g.10gb) and count")
    unknown = sorted(str(k) for k in value if k not in MIG_KEYS)
    if unknown:
        raise FieldError("mig", ",".join(unknown), "is not a mig key (known: %s)" % ", ".join(MIG_KEYS))
    profile = value.get("profile")
    if not isinstance(profile, str) or not PROFILE_RE.match(profile):
        raise FieldError("mig.profile", profile, "is not a MIG profile name such as 1g.10gb or 3g.40gb "
                         "(nvidia-smi mig -lgip lists a GPU's)")
    count = value.get("count", 1)
    if isinstance(count, str) and count.strip().isdigit():
        count = int(count.strip())
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_INSTANCES:
        raise FieldError("mig.count", count, "must be a whole number from 1 to %d" % MAX_INSTANCES)
    if gpus:
        raise FieldError("mig", "%s x%d" % (profile, count), "cannot be combined with gpus %d: a tenant gets "
                         "whole GPUs or MIG instances" % gpus)
    return profile, count


def check_share(value: Any, gpus: int, mig: Optional[Tuple[str, int]]) -> Optional[Tuple[int, str]]:
    """`gpu_share` as (GPU count, mode), or None when not asked. Raises FieldError naming gpu_share and the value."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldError("gpu_share", value, "must be a dict with gpus (how many shared GPUs) and mode (time-slice)")
    unknown = sorted(str(k) for k in value if k not in SHARE_KEYS)
    if unknown:
        raise FieldError("gpu_share", ",".join(unknown), "is not a gpu_share key (known: %s)" % ", ".join(SHARE_KEYS))
    count = value.get("gpus", 1)
    if isinstance(count, str) and count.strip().isdigit():
        count = int(count.strip())
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 64:
        raise FieldError("gpu_share.gpus", count, "must be a whole number from 1 to 64")
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
