# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A host's MIG layout as data, in nvidia-mig-parted's config format (its api/spec/v1)::

    version: v1
    mig-configs:
      <name>:
        - devices: all | [0, 1]        # GPU indices
          mig-enabled: true | false
          mig-devices: {"1g.10gb": 7}   # profile -> how many (only with mig-enabled: true)

read into what each GPU should be. `device-filter` (a PCI device ID) is refused: the layout names
GPUs by index. A GPU no entry names is left as it is; one named by two entries is an error.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.gpulab.dgx.plugins.module_utils.common.errors import FieldError
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import PROFILE_RE

ENTRY_KEYS = ("devices", "mig-enabled", "mig-devices")
MAX_PER_PROFILE = 7  # no GPU holds more than seven instances


class Desired(object):
    """What one GPU should be: MIG on or off, and the count of instances per profile."""

    def __init__(self, enabled: bool, devices: Optional[Dict[str, int]] = None) -> None:
        self.enabled = enabled
        self.devices = dict((p, n) for p, n in (devices or {}).items() if n)

    def profiles(self) -> List[str]:
        """The instances as a sorted list of profile names (one per instance)."""
        return sorted(p for p, n in self.devices.items() for _copy in range(n))

    def as_dict(self) -> Dict[str, Any]:
        return {"mig_enabled": self.enabled, "mig_devices": dict(sorted(self.devices.items()))}


def read_layout(config: Any, name: Any, gpu_indices: List[int], field: str = "config") -> Dict[int, Desired]:
    """GPU index -> Desired for the layout `name` of `config`; FieldError naming `field` (or `name`)."""
    if not isinstance(config, dict):
        raise FieldError(field, type(config).__name__, "must be a mapping in nvidia-mig-parted's format "
                         "(version: v1, mig-configs: {<name>: [...]})")
    unknown = sorted(str(k) for k in config if k not in ("version", "mig-configs"))
    if unknown:
        raise FieldError(field, ",".join(unknown), "is not a key of nvidia-mig-parted's format (version, mig-configs)")
    if config.get("version") != "v1":
        raise FieldError(field + ".version", config.get("version"), "must be v1")
    configs = config.get("mig-configs")
    if not isinstance(configs, dict) or not configs:
        raise FieldError(field + ".mig-configs", configs if not isinstance(configs, dict) else "{}",
                         "must map at least one layout name to its entries")
    if not isinstance(name, str) or name not in configs:
        raise FieldError("name", name, "is not a layout of %s.mig-configs (%s)" % (field, ", ".join(sorted(map(str, configs)))))
    entries = configs[name]
    where = "%s.mig-configs.%s" % (field, name)
    if not isinstance(entries, list) or not entries:
        raise FieldError(where, entries, "must be a list of at least one entry")
    known = sorted(gpu_indices)
    desired: Dict[int, Desired] = {}
    for number, entry in enumerate(entries):
        at = "%s[%d]" % (where, number)
        want = _entry(entry, at)
        for index in _devices(entry.get("devices"), known, at):
            if index in desired:
                raise FieldError(at + ".devices", index, "is named by an earlier entry of the same layout")
            desired[index] = want
    return desired


def _entry(entry: Any, at: str) -> Desired:
    if not isinstance(entry, dict):
        raise FieldError(at, entry, "must be a mapping with devices and mig-enabled")
    if "device-filter" in entry:
        raise FieldError(at + ".device-filter", entry["device-filter"], "is not supported: name the GPUs by index in devices")
    unknown = sorted(str(k) for k in entry if k not in ENTRY_KEYS)
    if unknown:
        raise FieldError(at, ",".join(unknown), "is not an entry key (%s)" % ", ".join(ENTRY_KEYS))
    for key in ("devices", "mig-enabled"):
        if key not in entry:
            raise FieldError(at + "." + key, None, "is required")
    enabled = entry["mig-enabled"]
    if not isinstance(enabled, bool):
        raise FieldError(at + ".mig-enabled", enabled, "must be true or false")
    devices = entry.get("mig-devices")
    if enabled and devices is None:
        # nvidia-mig-parted refuses this too ("missing required field 'mig-devices' when 'mig-enabled' is true").
        raise FieldError(at + ".mig-devices", None, "is required with mig-enabled: true ({} for MIG on without instances)")
    if devices is None:
        devices = {}
    if not isinstance(devices, dict):
        raise FieldError(at + ".mig-devices", devices, "must map MIG profiles to counts, e.g. {\"1g.10gb\": 7}")
    if devices and not enabled:
        raise FieldError(at + ".mig-devices", ",".join(sorted(map(str, devices))), "needs mig-enabled: true")
    counts: Dict[str, int] = {}
    for profile, count in devices.items():
        if not isinstance(profile, str) or not PROFILE_RE.match(profile):
            raise FieldError(at + ".mig-devices", profile, "is not a MIG profile name such as 1g.10gb")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_PER_PROFILE:
            raise FieldError(at + ".mig-devices." + profile, count, "must be a count from 0 to %d" % MAX_PER_PROFILE)
        counts[profile] = count
    return Desired(enabled, counts)


def _devices(value: Any, known: List[int], at: str) -> List[int]:
    if value == "all":
        return list(known)
    if not isinstance(value, list):  # an empty list names no GPU, as in nvidia-mig-parted
        raise FieldError(at + ".devices", value, "must be all or a list of GPU indices")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise FieldError(at + ".devices", item, "is not a GPU index")
        if item not in known:
            raise FieldError(at + ".devices", item, "is not a GPU of this host (%s)" % (",".join(map(str, known)) or "none"))
        if item in out:
            raise FieldError(at + ".devices", item, "is listed twice")
        out.append(item)
    return out
