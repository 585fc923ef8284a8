# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Take a tenant away: stop and remove its container, and with purge delete its data directory.

Purge trusts only the ledger: the directory recorded in the tenant's own `gpulab.data-dir` label
(or `<data_base>/<name>` when it has no container), only inside the data base, never when another
tenant's recorded directory or a non-tenant container's mount overlaps it. The archive is written
and fsynced outside every tenant directory before anything is deleted; removal never follows a
symlink (tenant_paths.remove_tree).
"""

from __future__ import annotations

import os
import tarfile
import time
from typing import Any, Optional

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.apply import (
    Outcome, RunCommand, fail_after_changes, name_taken)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.disk import (
    data_quota_support, quota_clear_commands, read_mounts)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.container import STOP_TIMEOUT, record_summary
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import Ledger, TenantRecord, read_ledger
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.lock import HostLock
from ansible_collections.gpulab.dgx.plugins.module_utils.common.paths import inside, overlaps
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.paths import (
    SYSTEM_TREES, check_base, check_no_overlap, check_tenant_dir, fsync_dir, make_dirs, remove_tree)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, TenantSpec
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.undo import RunFailed, Undo


def archive_name(archive_to: str, name: str, now: Optional[float] = None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    return os.path.join(archive_to, "%s-%s.tar.gz" % (name, stamp))


def purge_target(spec: TenantSpec, record: Optional[TenantRecord], ledger: Ledger) -> str:
    """The one directory a purge may delete, or a SpecError saying why there is none."""
    base = check_base("data_base", spec.data_base)
    target = record.data_dir if record is not None and record.data_dir else spec.data_dir
    target = os.path.normpath(target)
    if not target.startswith(base + "/"):
        raise SpecError("data_base", spec.data_base, "does not hold %s, the data directory tenant %s's container "
                        "records; purge deletes only inside data_base" % (target, spec.name))
    check_tenant_dir("data_base", target)
    check_no_overlap("purge", target, ledger.data_dirs_of_others(spec.name),
                     [(c, s, True) for c, s, _rw in ledger.foreign_mounts if inside(os.path.realpath(s), target)])
    return target


def check_archive_dir(spec: TenantSpec, target: str, ledger: Ledger) -> str:
    archive_to = spec.archive_to or ""
    for tree in SYSTEM_TREES:
        if inside(archive_to, tree):
            raise SpecError("archive_to", archive_to, "is or lies inside %s, a system directory" % tree)
    check_tenant_dir("archive_to", archive_to)
    if overlaps(archive_to, target) or inside(archive_to, spec.data_base):
        raise SpecError("archive_to", archive_to, "lies inside or holds the data being purged (%s); archives "
                        "must be kept apart from tenant data" % target)
    for other, recorded in ledger.data_dirs_of_others(spec.name):
        if inside(archive_to, os.path.realpath(recorded)):
            raise SpecError("archive_to", archive_to, "lies inside tenant %s's data directory %s" % (other, recorded))
    return archive_to


def write_archive(source: str, archive: str, arcname: str, undo: Undo) -> None:
    """tar.gz of `source` (symlinks stored as links), mode 0600, fsynced with its directory."""
    for path in make_dirs(os.path.dirname(archive), 0o700):
        undo.add("removed directory %s" % path, lambda p=path: os.rmdir(p))
    fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    undo.add("removed the partial archive %s" % archive, lambda: os.unlink(archive))
    with os.fdopen(fd, "wb") as handle:
        with tarfile.open(fileobj=handle, mode="w:gz") as tar:
            tar.add(source, arcname=arcname)
        handle.flush()
        os.fsync(handle.fileno())
    fsync_dir(os.path.dirname(archive))


def _stop(client: Any, record: TenantRecord, undo: Undo) -> Any:
    container = client.containers.get(record.id)
    if record.running:
        container.stop(timeout=STOP_TIMEOUT)
        undo.add("restarted container %s" % record.container_name, container.start)
    return container


def ensure_absent(client: Any, spec: TenantSpec, run_command: RunCommand, check_mode: bool, lock: HostLock,
                  ledger: Optional[Ledger] = None) -> Outcome:
    """Remove one tenant. Alone it takes the lock and reads the ledger; in a batch the caller holds
    the lock and passes its ledger, which this step updates."""
    if ledger is not None:
        return _absent(client, spec, run_command, check_mode, None, ledger)
    with lock:
        return _absent(client, spec, run_command, check_mode, lock, None)


def _absent(client: Any, spec: TenantSpec, run_command: RunCommand, check_mode: bool, lock: Optional[HostLock],
            shared: Optional[Ledger]) -> Outcome:
    outcome = Outcome()
    undo = Undo()
    try:
        ledger = shared if shared is not None else read_ledger(client)
        name_taken(ledger, spec.name)
        current = ledger.tenants.get(spec.name)
        parked = ledger.leftovers.get(spec.name)
        record = current or parked
        target = record.data_dir if record is not None and record.data_dir else spec.data_dir
        if spec.purge:
            target = purge_target(spec, record, ledger)
        outcome.before = record_summary(current) if current is not None else {}
        outcome.tenant = {"name": spec.name, "data_dir": target, "container_id": ""}
        if current is not None:
            outcome.act("remove")
        if parked is not None:
            outcome.act("remove-parked")
        purge = spec.purge and os.path.isdir(target)
        if purge and spec.archive_to:
            outcome.tenant["archive"] = archive_name(check_archive_dir(spec, target, ledger), spec.name)
            outcome.act("archive")
        if purge:
            outcome.act("purge")
        outcome.after = {}
        if check_mode:
            if shared is not None:
                shared.drop(spec.name)
            return outcome
        records = [r for r in (current, parked) if r is not None]
        containers = [_stop(client, r, undo) for r in records]
        if purge and spec.archive_to:
            write_archive(target, outcome.tenant["archive"], spec.name, undo)
        for container in containers:
            container.remove(force=True)
    except Exception as exc:
        raise fail_after_changes(exc, undo, lock, "name", spec.name)
    if shared is not None:
        shared.drop(spec.name)
    if purge:
        _purge(spec, record, target, run_command)
    return outcome


def _purge(spec: TenantSpec, record: Optional[TenantRecord], target: str, run_command: RunCommand) -> None:
    """Delete the data (the container is gone and the archive is safe: there is no way back)."""
    try:
        pid = record.quota_project if record is not None else None
        if pid is not None:
            mount = data_quota_support(target, read_mounts())[2]
            if mount is not None:
                for argv in quota_clear_commands(mount.mountpoint, target, pid):
                    run_command(argv)
        remove_tree(target)
    except (OSError, RuntimeError) as exc:
        raise RunFailed("purge", target, "could not be deleted completely: %s" % exc, [],
                        ["the container is removed and the data directory is partly deleted"])
