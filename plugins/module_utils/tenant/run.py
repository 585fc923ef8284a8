# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run tenants against Docker, one or a host's whole list, under one lock and one ledger read.

Every tenant is checked before anything changes (the callers validate the specs first); then, in
the order given, each is brought to its state. A tenant's failure undoes that tenant's changes and
is reported for it; the tenants after it still run, placed around what the ones before them got.
The one-tenant module is a batch of one."""

from __future__ import annotations

import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

try:
    from docker.errors import DockerException
    DOCKER_ERRORS: Tuple[Type[BaseException], ...] = (DockerException,)
except ImportError:  # the modules report a missing Docker SDK before they run anything here
    DOCKER_ERRORS = ()

from ansible_collections.gpulab.dgx.plugins.module_utils.docker.client import DockerUnreachable, connect, resolve_host
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.apply import Outcome, ensure_present
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.container import docker_refusal
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import Ledger, read_ledger
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.lock import HostLock, LockTimeout
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.remove import ensure_absent
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, TenantSpec
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.undo import RunFailed
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError


class Settled(object):
    """One tenant's end: its outcome, or the error that stopped it (already undone)."""

    def __init__(self, spec: TenantSpec, outcome: Optional[Outcome] = None, error: Optional[Exception] = None,
                 trace: str = "") -> None:
        self.spec = spec
        self.outcome = outcome
        self.error = error
        self.trace = trace

    def result(self) -> Dict[str, Any]:
        """What the module reports for this tenant."""
        if self.outcome is not None:
            outcome = self.outcome
            return dict(changed=outcome.changed, failed=False, tenant=outcome.tenant, actions=outcome.actions,
                        diff=dict(before=outcome.before, after=outcome.after), warnings=list(outcome.warnings))
        exc = self.error
        result: Dict[str, Any] = dict(changed=False, failed=True, msg=str(exc))
        if isinstance(exc, (SpecError, RunFailed)):
            result.update(field=exc.field, value=exc.value, undone=getattr(exc, "undone", []),
                          not_undone=getattr(exc, "not_undone", []))
        if self.trace:  # a defect, not an input problem: the details for a bug report
            result.update(exception=self.trace)
        return result


def _explain(exc: Exception, spec: TenantSpec, base_url: str, topology_given: bool) -> Exception:
    """Any failure of one tenant as a SpecError or RunFailed naming the option (a defect as an
    "unexpected error" of the tenant's name; _failed keeps its traceback)."""
    if isinstance(exc, (SpecError, RunFailed)):
        return exc
    if isinstance(exc, TopologyError):
        return SpecError("topology", "<%s>" % ("given" if topology_given else "read from the host"), str(exc))
    if isinstance(exc, DOCKER_ERRORS):
        return SpecError("docker_host", base_url, "answered: %s" % docker_refusal(exc))
    if isinstance(exc, OSError):
        return SpecError("name", spec.name, "could not be brought to %s: %s" % (spec.state, exc))
    return SpecError("name", spec.name, "unexpected error while bringing the tenant to %s: %s: %s"
                     % (spec.state, type(exc).__name__, exc))


def run_tenants(specs: List[TenantSpec], host: Dict[str, Any], run_command: Callable[[List[str]], Any],
                read_topology: Callable[[], Dict[str, Any]], check_mode: bool) -> List[Settled]:
    """Bring every tenant of `specs` to its state, in order. `host` holds docker_host, lock_path,
    lock_timeout and topology (None: read from the host, once). Raises SpecError only for what stops
    the whole run (Docker unreachable, the lock not taken)."""
    base_url = resolve_host(host.get("docker_host"))
    lock = HostLock(host["lock_path"], host["lock_timeout"], create=not check_mode)
    given = host.get("topology")
    cache: List[Dict[str, Any]] = []

    def topology() -> Dict[str, Any]:
        if given is not None:
            return given
        if not cache:
            cache.append(read_topology())
        return cache[0]

    try:
        client = connect(base_url, timeout=120)
    except DockerUnreachable as exc:
        raise SpecError("docker_host", base_url, "cannot be reached: %s" % exc.reason)
    try:
        if len(specs) == 1:
            # Alone, the tenant takes the lock and reads the ledger itself (the lock file goes when it fails).
            return [_settle(client, specs[0], topology, run_command, check_mode, lock, None, base_url, given is not None)]
        with lock:
            try:
                ledger = read_ledger(client)
            except DOCKER_ERRORS as exc:
                raise SpecError("docker_host", base_url, "answered: %s" % docker_refusal(exc))
            settled = [_settle(client, spec, topology, run_command, check_mode, lock, ledger, base_url, given is not None)
                       for spec in specs]
            if settled and all(s.error is not None for s in settled):
                lock.discard()  # nothing of this run stays: neither does a lock file it created
        return settled
    except LockTimeout as exc:
        raise SpecError("lock_timeout", host["lock_timeout"], str(exc))
    finally:
        client.close()


def _settle(client: Any, spec: TenantSpec, topology: Callable[[], Dict[str, Any]],
            run_command: Callable[[List[str]], Any], check_mode: bool, lock: HostLock, ledger: Optional[Ledger],
            base_url: str, topology_given: bool) -> Settled:
    """One tenant brought to its state: with `ledger` as a batch step under the batch's lock, without
    it alone (its own lock and ledger read)."""
    try:
        if spec.state == "present":
            return Settled(spec, ensure_present(client, spec, topology, run_command, check_mode, lock, ledger))
        return Settled(spec, ensure_absent(client, spec, run_command, check_mode, lock, ledger))
    except LockTimeout:
        raise
    except Exception as exc:  # pylint: disable=broad-except
        return _failed(exc, spec, base_url, topology_given)


def _failed(exc: Exception, spec: TenantSpec, base_url: str, topology_given: bool) -> Settled:
    expected = isinstance(exc, (SpecError, RunFailed, TopologyError, OSError) + DOCKER_ERRORS)
    return Settled(spec, error=_explain(exc, spec, base_url, topology_given),
                   trace="" if expected else traceback.format_exc())
