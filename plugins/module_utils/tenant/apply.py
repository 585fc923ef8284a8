# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bring one tenant to its state under the host-wide lock: read the ledger once, work out the
difference, check everything, then act (outside check mode only). What a failing run changed is
undone (tenant_undo); removal and purge live in tenant_remove."""

from __future__ import annotations

import errno
import os
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.gpulab.dgx.plugins.module_utils.common.sizes import format_size, human_size
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc import allocate
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.disk import (
    data_quota_support, project_id, quota_clear_commands, quota_set_commands, read_mounts,
    storage_opt_support)
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset, parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.container import (
    STOP_TIMEOUT, Desired, create_and_start, docker_refusal, in_place_changes, login_user, record_summary)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import (
    LABEL_TENANT, Ledger, TenantRecord, read_ledger)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.lock import HostLock
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.paths import (
    check_base, check_no_overlap, check_tenant_dir, make_dirs, remove_tree)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ports import choose_port
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import REPLACED_SUFFIX, SpecError, TenantSpec
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.undo import RunFailed, Undo, field_of

RunCommand = Callable[[List[str]], Any]


class Outcome(object):
    """What the module returns: changed, the tenant, the actions taken (or that would be), diff."""

    def __init__(self) -> None:
        self.changed = False
        self.actions: List[str] = []
        self.tenant: Dict[str, Any] = {}
        self.before: Dict[str, Any] = {}
        self.after: Dict[str, Any] = {}
        self.warnings: List[str] = []

    def act(self, action: str) -> None:
        self.changed = True
        self.actions.append(action)


def name_taken(ledger: Ledger, name: str) -> None:
    attrs = ledger.by_container_name.get(name)
    if attrs is not None:
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        if labels.get(LABEL_TENANT) != name:
            raise SpecError("name", name, "is taken by container %s, which is not this tenant's"
                            % (attrs.get("Id") or "")[:12])


def _resolve_image(client: Any, image: str) -> Any:
    try:
        return client.images.get(image)
    except Exception as exc:  # docker.errors.ImageNotFound; the SDK may be missing in unit tests
        if getattr(exc, "status_code", None) == 404 or type(exc).__name__ == "ImageNotFound":
            raise SpecError("image", image, "is not on this host; build or load it first "
                            "(role gpulab.dgx.tenant_image)")
        raise


def _disk_plan(spec: TenantSpec, info: Dict[str, Any], others: List[TenantRecord], current: Optional[TenantRecord], outcome: Outcome) -> Any:
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


def _check_memory(spec: TenantSpec, info: Dict[str, Any], others: List[TenantRecord]) -> None:
    total = int(info.get("MemTotal") or 0)
    held = sum(r.memory for r in others)
    if total and (spec.memory or 0) > total - held:
        raise SpecError("memory", format_size(spec.memory), "is more than the %s free of the host's %s "
                        "(other tenants hold %s)" % (human_size(max(total - held, 0)), human_size(total),
                                                     human_size(held)))


def _recover_leftover(client: Any, ledger: Ledger, name: str, check_mode: bool, outcome: Outcome) -> Ledger:
    """Finish a re-creation that a crash interrupted: drop the parked container when the tenant
    has its new one, else put the parked one back. Either is a change, reported as one."""
    parked = ledger.leftovers.get(name)
    if parked is None:
        return ledger
    restore = name not in ledger.tenants
    outcome.act("restore-parked" if restore else "remove-parked")
    if not check_mode:
        container = client.containers.get(parked.id)
        if restore:
            container.rename(name)
        else:
            container.remove(force=True)
    # The ledger as it is now (or would be, in check mode).
    del ledger.leftovers[name]
    if restore:
        parked.container_name = name
        ledger.tenants[name] = parked
    return ledger


def _check_data_dir(spec: TenantSpec, ledger: Ledger, current: Optional[TenantRecord]) -> None:
    """The tenant's directory is <data_base>/<name>, confined and apart from everyone else's."""
    check_base("data_base", spec.data_base)
    check_tenant_dir("data_base", spec.data_dir)
    if current is not None and current.data_dir and os.path.realpath(current.data_dir) != spec.data_dir:
        raise SpecError("data_base", spec.data_base, "does not hold tenant %s's data directory %s, which its "
                        "container records; give data_base: %s (data is never moved)"
                        % (spec.name, current.data_dir, os.path.dirname(current.data_dir)))
    check_no_overlap("data_base", spec.data_dir, ledger.data_dirs_of_others(spec.name), ledger.foreign_mounts)


def _check_network(client: Any, name: str) -> None:
    try:
        network = client.networks.get(name)
    except Exception as exc:  # docker.errors.NotFound
        if getattr(exc, "status_code", None) == 404 or type(exc).__name__ == "NotFound":
            raise SpecError("network", name, "is not a network on this Docker daemon")
        raise
    driver = (network.attrs or {}).get("Driver")
    if driver in ("host", "null"):
        raise SpecError("network", name, "uses the %s driver, which cannot publish SSH" % driver)


def _host_cpus(path: str = "/sys/devices/system/cpu/online") -> Optional[List[int]]:
    try:
        with open(path) as handle:
            return parse_cpuset(handle.read().strip())
    except (OSError, ValueError):
        return None


def _check_cpus_exist(cpuset: str) -> None:
    online = _host_cpus()
    if online is None or not cpuset:
        return
    missing = sorted(set(parse_cpuset(cpuset)) - set(online))
    if missing:
        raise SpecError("topology", cpuset, "places the tenant on CPUs %s, which this host does not have online "
                        "(%s); give the host's own topology" % (format_cpuset(missing), format_cpuset(online)))


def _plan_present(client: Any, spec: TenantSpec, topology_source: Callable[[], Dict[str, Any]], check_mode: bool,
                  outcome: Outcome, ledger: Ledger) -> Dict[str, Any]:
    """Everything a present run needs, read and checked; nothing changed yet (but a parked leftover)."""
    info = client.info()
    ledger = _recover_leftover(client, ledger, spec.name, check_mode, outcome)
    name_taken(ledger, spec.name)
    image = _resolve_image(client, spec.image or "")
    current = ledger.tenants.get(spec.name)
    others = ledger.others(spec.name)
    _check_data_dir(spec, ledger, current)
    _check_network(client, spec.network)
    topology = topology_source()
    alloc = allocate(spec, current, others, topology)
    _check_cpus_exist(alloc.cpuset)
    _check_memory(spec, info, others)
    port = choose_port(spec.name, spec.ssh_port, current.ssh_port if current else None,
                       spec.ssh_port_range, ledger.ports_taken_by_others(spec.name), spec.ssh_bind_address)
    storage_size, quota_project, quota_mount = _disk_plan(spec, info, others, current, outcome)
    desired = Desired(spec, alloc, port, image.id, storage_size, quota_project)
    return {"image": image, "current": current, "alloc": alloc, "desired": desired,
            "storage_size": storage_size, "quota_project": quota_project, "quota_mount": quota_mount}


def _set_quota(plan: Dict[str, Any], spec: TenantSpec, run_command: RunCommand, undo: Undo) -> None:
    pid, mount, current = plan["quota_project"], plan["quota_mount"], plan["current"]
    for argv in quota_set_commands(mount, spec.data_dir, pid, spec.disk or 0):
        run_command(argv)
    old_pid = current.quota_project if current is not None else None
    if old_pid is not None and current is not None and current.disk:
        undo.add("put back quota project %d" % old_pid,
                 lambda: [run_command(a) for a in quota_set_commands(mount, spec.data_dir, old_pid, current.disk)])
    else:
        undo.add("cleared quota project %d" % pid,
                 lambda: [run_command(a) for a in quota_clear_commands(mount, spec.data_dir, pid)])


def _recreate(client: Any, current: TenantRecord, desired: Desired, undo: Undo) -> Any:
    """Park the old container, start the new one; the old one is removed only once all went well."""
    old = client.containers.get(current.id)
    if current.running:
        old.stop(timeout=STOP_TIMEOUT)
        undo.add("restarted the previous container", old.start)
    old.rename(current.container_name + REPLACED_SUFFIX)
    undo.add("put the previous container back as %s" % current.container_name,
             lambda: old.rename(current.container_name))
    new = create_and_start(client, desired, undo)
    return new, old


def _rmdir_if_empty(path: str) -> None:
    """Undo of a parent directory a tenant created: other tenants' directories may be in it by now."""
    try:
        os.rmdir(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise


def _make_data_dir(spec: TenantSpec, undo: Undo) -> None:
    for path in make_dirs(spec.data_dir, 0o750):  # parents first, so the deepest is undone first
        undo.add("removed directory %s" % path if path == spec.data_dir else "removed directory %s if left empty" % path,
                 (lambda p=path: remove_tree(p)) if path == spec.data_dir else (lambda p=path: _rmdir_if_empty(p)))


def _apply_present(client: Any, spec: TenantSpec, plan: Dict[str, Any], run_command: RunCommand, outcome: Outcome, undo: Undo) -> str:
    """The container's part of a present run (the data directory is made by stage_present)."""
    current, desired, update = plan["current"], plan["desired"], plan["update"]
    container_id = current.id if current is not None else ""
    rebuild = "create" in outcome.actions or "recreate" in outcome.actions
    if plan["quota_project"] is not None and rebuild:
        _set_quota(plan, spec, run_command, undo)
    old = None
    if "create" in outcome.actions:
        container_id = create_and_start(client, desired, undo).id
    elif "recreate" in outcome.actions:
        new, old = _recreate(client, current, desired, undo)
        container_id = new.id
    else:
        container = client.containers.get(current.id)
        if update:
            container.update(**update)
        if "start" in outcome.actions:
            container.start()
    user = login_user(plan["image"].labels)
    if user != "root" and rebuild:
        result = client.containers.get(container_id).exec_run(["chown", "%s:" % user, spec.data_mount], user="root")
        if getattr(result, "exit_code", 0):
            raise SpecError("data_mount", spec.data_mount, "could not be given to user %s in the container: %s"
                            % (user, (result.output or b"").decode("utf-8", "replace").strip()))
    if old is not None:
        old.remove(force=True)
    return container_id


def fail_after_changes(exc: Exception, undo: Undo, lock: Optional[HostLock], default_field: str, default_value: Any) -> Exception:
    """Undo what the run changed; the exception to raise, naming the option and what was undone.
    Without `lock` (a batch step: the batch holds the lock and goes on) the lock file stays."""
    undone, failed = undo.run()
    if lock is not None:
        undone.extend("removed lock file or directory %s" % p for p in lock.discard())
    if isinstance(exc, RunFailed) or (not undone and not failed):
        return exc
    if isinstance(exc, SpecError):
        return RunFailed(exc.field, exc.value, exc.reason, undone, failed)
    message = docker_refusal(exc)
    field = field_of(message, default_field)
    return RunFailed(field, default_value if field == default_field else "(see the reason)", "was refused: %s"
                     % message, undone, failed)


class Staged(object):
    """A present tenant planned and checked, its data directory made: what is left is the container."""

    def __init__(self, spec: TenantSpec, outcome: Outcome, plan: Dict[str, Any], undo: Undo) -> None:
        self.spec = spec
        self.outcome = outcome
        self.plan = plan
        self.undo = undo


def ensure_present(client: Any, spec: TenantSpec, topology_source: Callable[[], Dict[str, Any]], run_command: RunCommand,
                   check_mode: bool, lock: HostLock) -> Outcome:
    """Bring one tenant to present, alone: take the lock, read the ledger, stage, act."""
    with lock:
        staged = stage_present(client, spec, topology_source, check_mode, lock, None)
        return act_present(client, staged, run_command, check_mode, lock)


def stage_present(client: Any, spec: TenantSpec, topology_source: Callable[[], Dict[str, Any]], check_mode: bool,
                  lock: Optional[HostLock], ledger: Optional[Ledger]) -> Staged:
    """Read and check everything, place the tenant and work out its actions; outside check mode make
    its data directory. In a batch (`ledger` given, the caller holds the lock) the ledger is updated
    with what the tenant will hold, so the tenants after it are placed around it."""
    outcome = Outcome()
    undo = Undo()
    try:
        plan = _plan_present(client, spec, topology_source, check_mode, outcome,
                             ledger if ledger is not None else read_ledger(client))
        current, desired, alloc = plan["current"], plan["desired"], plan["alloc"]
        outcome.before = record_summary(current) if current is not None else {}
        outcome.after = desired.summary()
        if not os.path.isdir(spec.data_dir):
            outcome.act("mkdir")
        plan["update"] = {}
        if current is None:
            outcome.act("create")
        elif current.spec_hash != desired.spec_hash or current.gpu_ids != desired.gpu_ids:
            outcome.act("recreate")  # device IDs too: MIG instances created again keep their slots, not their UUIDs
        else:
            plan["update"] = in_place_changes(current, desired)
            if plan["update"]:
                outcome.act("update")
            if not current.running:
                outcome.act("start")
        if alloc.placed:
            outcome.warnings.extend(alloc.notes)
        if not check_mode and "mkdir" in outcome.actions:
            _make_data_dir(spec, undo)
    except Exception as exc:
        raise fail_after_changes(exc, undo, lock, "name", spec.name)
    if ledger is not None and outcome.changed:
        ledger.put(desired.as_attrs())
    return Staged(spec, outcome, plan, undo)


def act_present(client: Any, staged: Staged, run_command: RunCommand, check_mode: bool, lock: Optional[HostLock]) -> Outcome:
    """Create, re-create, update or start the staged tenant's container (outside check mode); what it
    changed, the data directory included, is undone when it fails."""
    spec, outcome, plan = staged.spec, staged.outcome, staged.plan
    current, desired, alloc = plan["current"], plan["desired"], plan["alloc"]
    container_id = current.id if current is not None else ""
    try:
        if not check_mode and outcome.changed:
            container_id = _apply_present(client, spec, plan, run_command, outcome, staged.undo)
    except Exception as exc:
        raise fail_after_changes(exc, staged.undo, lock, "name", spec.name)
    image = plan["image"]
    outcome.tenant = dict(desired.summary(), name=spec.name, container_id=container_id,
                          gpu_indices=alloc.gpu_indices, numa_local=alloc.numa_local,
                          placed=alloc.placed, login_user=login_user(image.labels),
                          memory_bytes=desired.memory, shm_size_bytes=desired.shm_size, disk_bytes=spec.disk,
                          disk_enforced=bool(plan["storage_size"]), data_mount=spec.data_mount,
                          cpu_quota=desired.cpu_quota, cpu_period=desired.cpu_period,
                          ssh_key_fingerprints=[k.fingerprint for k in spec.ssh_keys],
                          placement_notes=alloc.notes)
    return outcome
