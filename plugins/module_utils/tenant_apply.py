# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bring one tenant to its state under the host-wide lock: read the ledger once, work out the
difference, check everything, then act (outside check mode only)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import shutil
import tarfile
import time
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.gpulab.dgx.plugins.module_utils.sizes import format_size, human_size
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant_alloc import allocate
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant_disk import (
    data_quota_support, project_id, quota_clear_commands, quota_set_commands, read_mounts,
    storage_opt_support)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant_docker import (
    Desired, create_and_start, in_place_changes, login_user, record_summary, remove, replace)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant_ledger import (
    LABEL_TENANT, Ledger, TenantRecord, read_ledger)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant_lock import HostLock
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant_ports import choose_port
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant_spec import SpecError, TenantSpec

RunCommand = Callable[[List[str]], Any]


class Outcome(object):
    """What the module returns: changed, the tenant, the actions taken (or that would be), diff."""

    def __init__(self):
        # type: () -> None
        self.changed = False
        self.actions = []  # type: List[str]
        self.tenant = {}  # type: Dict[str, Any]
        self.before = {}  # type: Dict[str, Any]
        self.after = {}  # type: Dict[str, Any]
        self.warnings = []  # type: List[str]

    def act(self, action):
        # type: (str) -> None
        self.changed = True
        self.actions.append(action)


def _name_taken(ledger, name):
    # type: (Ledger, str) -> None
    attrs = ledger.by_container_name.get(name)
    if attrs is not None:
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        if labels.get(LABEL_TENANT) != name:
            raise SpecError("name", name, "is taken by container %s, which is not this tenant's"
                            % (attrs.get("Id") or "")[:12])


def _resolve_image(client, image):
    # type: (Any, str) -> Any
    try:
        return client.images.get(image)
    except Exception as exc:  # docker.errors.ImageNotFound; the SDK may be missing in unit tests
        if getattr(exc, "status_code", None) == 404 or type(exc).__name__ == "ImageNotFound":
            raise SpecError("image", image, "is not on this host; build or load it first "
                            "(role gpulab.dgx.tenant_image)")
        raise


def _disk_plan(spec, info, others, current, outcome):
    # type: (TenantSpec, Dict[str, Any], List[TenantRecord], Optional[TenantRecord], Outcome) -> Any
    """(storage size, quota project, data mount point) for the disk limit, or why it cannot be."""
    if not spec.disk:
        return None, None, None
    mounts = read_mounts()
    ok_root, why_root = storage_opt_support(info, mounts)
    ok_data, why_data, mount = data_quota_support(spec.data_dir, mounts)
    if ok_root and ok_data:
        taken = [r.quota_project for r in others if r.quota_project is not None]
        pid = current.quota_project if current is not None and current.quota_project is not None else None
        if pid is None or pid in taken:
            pid = project_id(spec.name, taken)
        return spec.disk, pid, mount.mountpoint
    reason = "; ".join(r for r in (why_root, why_data) if r)
    if spec.disk_enforcement:
        raise SpecError("disk", format_size(spec.disk), "cannot be enforced on this host: %s. Put Docker's "
                        "data root and the tenant data on xfs mounted with pquota (role gpulab.dgx."
                        "docker_storage), or set disk_enforcement: false to go on without a disk limit"
                        % reason)
    outcome.warnings.append("disk %s for tenant %s is recorded but not enforced: %s"
                            % (format_size(spec.disk), spec.name, reason))
    return None, None, None


def _check_memory(spec, info, others):
    # type: (TenantSpec, Dict[str, Any], List[TenantRecord]) -> None
    total = int(info.get("MemTotal") or 0)
    held = sum(r.memory for r in others)
    if total and (spec.memory or 0) > total - held:
        raise SpecError("memory", format_size(spec.memory), "is more than the %s free of the host's %s "
                        "(other tenants hold %s)" % (human_size(max(total - held, 0)), human_size(total),
                                                     human_size(held)))


def _recover_leftover(client, ledger, name, check_mode):
    # type: (Any, Ledger, str, bool) -> Ledger
    """Finish a re-creation that a crash interrupted: drop the parked container, or put it back."""
    parked = ledger.leftovers.get(name)
    if parked is None or check_mode:
        return ledger
    container = client.containers.get(parked.id)
    if name in ledger.tenants:
        container.remove(force=True)
    else:
        container.rename(name)
    return read_ledger(client)


def ensure_present(client, spec, topology_source, run_command, check_mode, lock):
    # type: (Any, TenantSpec, Callable[[], Dict[str, Any]], RunCommand, bool, HostLock) -> Outcome
    outcome = Outcome()
    with lock:
        info = client.info()
        ledger = _recover_leftover(client, read_ledger(client), spec.name, check_mode)
        _name_taken(ledger, spec.name)
        image = _resolve_image(client, spec.image or "")
        current = ledger.tenants.get(spec.name)
        others = ledger.others(spec.name)
        topology = topology_source()
        alloc = allocate(spec, current, others, topology)
        _check_memory(spec, info, others)
        port = choose_port(spec.name, spec.ssh_port, current.ssh_port if current else None,
                           spec.ssh_port_range, ledger.ports_taken_by_others(spec.name), spec.ssh_bind_address)
        storage_size, quota_project, quota_mount = _disk_plan(spec, info, others, current, outcome)
        desired = Desired(spec, alloc, port, image.id, storage_size, quota_project)
        outcome.before = record_summary(current) if current is not None else {}
        outcome.after = desired.summary()

        if not os.path.isdir(spec.data_dir):
            outcome.act("mkdir")
        update = {}  # type: Dict[str, Any]
        if current is None:
            outcome.act("create")
        elif current.spec_hash != desired.spec_hash:
            outcome.act("recreate")
        else:
            update = in_place_changes(current, desired)
            if update:
                outcome.act("update")
            if not current.running:
                outcome.act("start")
        if alloc.placed:
            outcome.warnings.extend(alloc.notes)

        container_id = current.id if current is not None else ""
        if not check_mode and outcome.changed:
            if "mkdir" in outcome.actions:
                os.makedirs(spec.data_dir, 0o750)
            if quota_project is not None and ("create" in outcome.actions or "recreate" in outcome.actions):
                for argv in quota_set_commands(quota_mount, spec.data_dir, quota_project, spec.disk or 0):
                    run_command(argv)
            if "create" in outcome.actions:
                container_id = create_and_start(client, desired).id
            elif "recreate" in outcome.actions:
                container_id = replace(client, current, desired).id
            else:
                container = client.containers.get(current.id)
                if update:
                    container.update(**update)
                if "start" in outcome.actions:
                    container.start()
            user = login_user(image.labels)
            if user != "root" and ("create" in outcome.actions or "recreate" in outcome.actions):
                client.containers.get(container_id).exec_run(
                    ["chown", "%s:" % user, spec.data_mount], user="root")

    outcome.tenant = dict(desired.summary(), name=spec.name, container_id=container_id,
                          gpu_indices=alloc.gpu_indices, numa_local=alloc.numa_local,
                          placed=alloc.placed, login_user=login_user(image.labels),
                          memory_bytes=desired.memory, disk_bytes=spec.disk,
                          disk_enforced=bool(storage_size), data_mount=spec.data_mount,
                          cpu_quota=desired.cpu_quota, cpu_period=desired.cpu_period,
                          ssh_key_fingerprints=[k.fingerprint for k in spec.ssh_keys],
                          placement_notes=alloc.notes)
    return outcome


def archive_name(archive_to, name, now=None):
    # type: (str, str, Optional[float]) -> str
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    return os.path.join(archive_to, "%s-%s.tar.gz" % (name, stamp))


def ensure_absent(client, spec, run_command, check_mode, lock):
    # type: (Any, TenantSpec, RunCommand, bool, HostLock) -> Outcome
    outcome = Outcome()
    with lock:
        ledger = read_ledger(client)
        _name_taken(ledger, spec.name)
        current = ledger.tenants.get(spec.name)
        parked = ledger.leftovers.get(spec.name)
        data_dir = spec.data_dir
        record = current or parked
        if record is not None and record.data_dir and not spec.data_dir_given:
            data_dir = record.data_dir
        outcome.before = record_summary(current) if current is not None else {}
        outcome.tenant = {"name": spec.name, "data_dir": data_dir, "container_id": ""}
        if current is not None:
            outcome.act("remove")
        if parked is not None:
            outcome.act("remove-parked")
        purge = spec.purge and os.path.isdir(data_dir)
        if purge:
            outcome.act("purge")
            if spec.archive_to:
                outcome.tenant["archive"] = archive_name(spec.archive_to, spec.name)
                outcome.actions.insert(len(outcome.actions) - 1, "archive")
        outcome.after = {}
        if check_mode:
            return outcome
        for rec in (current, parked):
            if rec is not None:
                remove(client, rec)
        if purge:
            if spec.archive_to:
                os.makedirs(spec.archive_to, 0o700, exist_ok=True)
                with tarfile.open(outcome.tenant["archive"], "w:gz") as tar:
                    tar.add(data_dir, arcname=spec.name)
                os.chmod(outcome.tenant["archive"], 0o600)
            pid = record.quota_project if record is not None else None
            if pid is not None:
                mount = data_quota_support(data_dir, read_mounts())[2]
                if mount is not None:
                    for argv in quota_clear_commands(mount.mountpoint, data_dir, pid):
                        run_command(argv)
            shutil.rmtree(data_dir)
    return outcome
