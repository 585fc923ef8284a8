# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""dcgm-exporter's job mapping (`--hpc-job-mapping-dir`): one file per GPU a tenant holds, named by
the GPU's index, holding the tenant's name (one name a line), so dcgm-exporter adds `hpc_job="<tenant>"`
to every series of that GPU.

dcgm-exporter reads the directory at each scrape and takes the files whose names are GPU indices
(`0`, `1`, or `<gpu>.<instance>` for MIG instances). This module writes and removes only files named
by a plain GPU index (`^[0-9]+$`); any other name in the directory is left alone. Each file is
written atomically (a temporary `.<index>.XXXX.tmp`, which dcgm-exporter's name pattern skips, fsync,
rename) and only when its bytes differ.
"""

from __future__ import annotations

import os
import re
import stat
from typing import Dict, Iterable, List, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.write import current_bytes, write_atomic

_INDEX_NAME = re.compile(r"^[0-9]+$")
# Kernel file systems, and the root: a mapping directory there is a mistake.
_REFUSED_TREES = ("/proc", "/sys", "/dev")


class JobMapRefused(ValueError):
    """The directory cannot hold the job mapping; the message says why."""


def check_job_dir(path: str) -> str:
    """The mapping directory, resolved; JobMapRefused unless `path` is an absolute path of an existing
    directory other than / and outside /proc, /sys and /dev."""
    if not isinstance(path, str) or not path:
        raise JobMapRefused("is not a path")
    if "\x00" in path:
        raise JobMapRefused("holds a NUL character")
    if not os.path.isabs(path):
        raise JobMapRefused("is not an absolute path")
    real = os.path.realpath(path)
    if real == "/":
        raise JobMapRefused("is the root directory")
    for tree in _REFUSED_TREES:
        if real == tree or real.startswith(tree + "/"):
            raise JobMapRefused("lies in %s, a kernel file system" % real)
    if not os.path.isdir(real):
        raise JobMapRefused("is not an existing directory")
    return real


def job_map(tenants: Iterable[Tuple[str, Iterable[object]]]) -> Dict[str, List[str]]:
    """{GPU index as text: the sorted names of the tenants holding it} from (tenant, GPU indices) pairs;
    a GPU whose index is unknown (None) is left out."""
    held: Dict[str, List[str]] = {}
    for name, indices in tenants:
        for index in indices:
            if index is None:
                continue
            names = held.setdefault(str(int(index)), [])
            if name not in names:
                names.append(name)
    return dict((index, sorted(names)) for index, names in held.items())


def _file_text(names: List[str]) -> bytes:
    return "".join(name + "\n" for name in names).encode("utf-8")


def _index_entries(directory: str) -> Dict[str, int]:
    """{name: st_mode} of the entries of `directory` named by a GPU index (never followed)."""
    found: Dict[str, int] = {}
    for name in os.listdir(directory):
        if _INDEX_NAME.match(name):
            found[name] = os.lstat(os.path.join(directory, name)).st_mode
    return found


def sync_job_map(directory: str, wanted: Dict[str, List[str]], check_mode: bool = False) -> bool:
    """Make the GPU-index files of `directory` (checked by check_job_dir) hold `wanted` (job_map's
    answer): write the files whose text differs, remove those of GPUs no tenant holds. A directory
    named by an index is refused (OSError); a symlink named by an index is replaced, never followed.
    True when something changed (in check mode: would change)."""
    entries = _index_entries(directory)
    for name, mode in entries.items():
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(0, "%s is a directory, not a job mapping file" % os.path.join(directory, name))
    changed = False
    for name in sorted(entries):
        if name in wanted:
            continue
        changed = True
        if not check_mode:
            os.unlink(os.path.join(directory, name))
    for name in sorted(wanted, key=int):
        target = os.path.join(directory, name)
        data = _file_text(wanted[name])
        mode = entries.get(name)
        if mode is not None and not stat.S_ISREG(mode):
            changed = True
            if not check_mode:
                os.unlink(target)  # a symlink or other entry: replaced by a regular file
                write_atomic(target, data)
            continue
        if check_mode:
            changed = changed or current_bytes(target) != data
        elif write_atomic(target, data):
            changed = True
    return changed
