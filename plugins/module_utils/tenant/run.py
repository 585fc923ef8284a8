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
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.apply import Outcome, Staged, act_present, ensure_present, stage_present
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.container import docker_refusal
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import Ledger, read_ledger
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.lock import HostLock, LockTimeout
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.remove import ensure_absent
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, TenantSpec
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.undo import RunFailed
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.verify import describe, in_threads, read_inside, verify_all
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError, check_topology


class Settled(object):
    """One tenant's end: its outcome, or the error that stopped it (already undone)."""

    def __init__(self, spec: TenantSpec, outcome: Optional[Outcome] = None, error: Optional[Exception] = None,
                 trace: str = "") -> None:
        self.spec = spec
        self.outcome = outcome
        self.error = error
        self.trace = trace
        self.reading: Optional[Dict[str, Any]] = None  # what verification read inside the container
        self.problems: List[str] = []  # what differs from the placement

    def present(self) -> bool:
        return self.outcome is not None and "spec_hash" in self.outcome.tenant

    def result(self) -> Dict[str, Any]:
        """What the module reports for this tenant."""
        if self.outcome is not None:
            outcome = self.outcome
            result = dict(changed=outcome.changed, failed=False, tenant=outcome.tenant, actions=outcome.actions,
                          diff=dict(before=outcome.before, after=outcome.after), warnings=list(outcome.warnings))
            if self.reading is not None:
                result.update(verified=self.reading)
                if not self.problems:
                    result.update(verified_summary=describe(self.reading, outcome.tenant))
            if self.problems:  # changes stay (not undone): the container is there to be looked at
                result.update(failed=True, msg="the container does not hold what was placed: %s" % "; ".join(self.problems))
            return result
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
        """The host's topology, read (when not given) and checked once per run."""
        if not cache:
            raw = given if given is not None else read_topology()
            try:
                cache.append(check_topology(raw))
            except TopologyError:
                cache.append(raw)  # allocate() refuses it, naming the option, for each tenant that needs it
        return cache[0]

    try:
        client = connect(base_url, timeout=120)
    except DockerUnreachable as exc:
        raise SpecError("docker_host", base_url, "cannot be reached: %s" % exc.reason)
    try:
        if len(specs) == 1:
            # Alone, the tenant takes the lock and reads the ledger itself (the lock file goes when it fails).
            return [_settle(client, specs[0], topology, run_command, check_mode, lock, base_url, given is not None)]
        with lock:
            try:
                ledger = read_ledger(client)
            except DOCKER_ERRORS as exc:
                raise SpecError("docker_host", base_url, "answered: %s" % docker_refusal(exc))
            settled = _run_batch(client, specs, ledger, topology, run_command, check_mode, host.get("parallel") or 1,
                                 base_url, given is not None)
            if settled and all(s.error is not None for s in settled):
                lock.discard()  # nothing of this run stays: neither does a lock file it created
        return settled
    except LockTimeout as exc:
        raise SpecError("lock_timeout", host["lock_timeout"], str(exc))
    finally:
        client.close()


def _settle(client: Any, spec: TenantSpec, topology: Callable[[], Dict[str, Any]],
            run_command: Callable[[List[str]], Any], check_mode: bool, lock: HostLock, base_url: str,
            topology_given: bool) -> Settled:
    """One tenant alone brought to its state (its own lock and ledger read)."""
    try:
        if spec.state == "present":
            return Settled(spec, ensure_present(client, spec, topology, run_command, check_mode, lock))
        return Settled(spec, ensure_absent(client, spec, run_command, check_mode, lock, None))
    except LockTimeout:
        raise
    except Exception as exc:  # pylint: disable=broad-except
        return _failed(exc, spec, base_url, topology_given)


def _run_batch(client: Any, specs: List[TenantSpec], ledger: Ledger, topology: Callable[[], Dict[str, Any]],
               run_command: Callable[[List[str]], Any], check_mode: bool, parallel: int, base_url: str,
               topology_given: bool) -> List[Settled]:
    """A host's tenants under the batch's lock, in two passes. First, in the order given, each tenant
    is checked and placed around the ones before it (removals are done then and there, so what they
    free is placeable). Then the containers of the present tenants that change are created, started
    or updated, at most `parallel` at a time; a tenant whose container fails is undone alone."""
    done: Dict[str, Settled] = {}
    staged: List[Staged] = []
    # Removals after the last present tenant free nothing that this run places: they go with the
    # containers of the second pass, each against its own copy of the ledger as the first pass left it.
    last_present = max([i for i, spec in enumerate(specs) if spec.state == "present"] or [-1])
    trailing = list(specs[last_present + 1:]) if not check_mode else []
    for spec in specs:
        if spec in trailing:
            continue
        try:
            if spec.state == "present":
                staged.append(stage_present(client, spec, topology, check_mode, None, ledger))
            else:
                done[spec.name] = Settled(spec, ensure_absent(client, spec, run_command, check_mode, None, ledger))
        except Exception as exc:  # pylint: disable=broad-except
            done[spec.name] = _failed(exc, spec, base_url, topology_given)

    def act(one: Any) -> None:
        spec = one if isinstance(one, TenantSpec) else one.spec
        try:
            if isinstance(one, TenantSpec):
                settled = Settled(spec, ensure_absent(client, spec, run_command, check_mode, None, ledger.snapshot()))
            else:
                settled = Settled(spec, act_present(client, one, run_command, check_mode, None))
        except Exception as exc:  # pylint: disable=broad-except
            settled = _failed(exc, spec, base_url, topology_given)
        done[spec.name] = settled

    busy = [one for one in staged if one.outcome.changed and not check_mode]
    for one in staged:
        if one not in busy:
            act(one)
    in_threads(act, trailing + busy, parallel)
    return [done[spec.name] for spec in specs]


def _failed(exc: Exception, spec: TenantSpec, base_url: str, topology_given: bool) -> Settled:
    expected = isinstance(exc, (SpecError, RunFailed, TopologyError, OSError) + DOCKER_ERRORS)
    return Settled(spec, error=_explain(exc, spec, base_url, topology_given),
                   trace="" if expected else traceback.format_exc())


def verify_settled(settled: List[Settled], docker_host: Optional[str], which: str, parallel: int, timeout: int) -> None:
    """Read inside the containers of the present tenants (`which`: "changed", those this run changed,
    or "all") and record on each what it holds and what differs from its placement."""
    chosen = [s for s in settled if s.present() and (which == "all" or (which == "changed" and s.outcome.changed))]
    if not chosen:
        return
    base_url = resolve_host(docker_host)
    try:
        client = connect(base_url, timeout=120)
    except DockerUnreachable as exc:
        raise SpecError("docker_host", base_url, "cannot be reached: %s" % exc.reason)
    try:
        found = verify_all([s.outcome.tenant for s in chosen], lambda cid: read_inside(client, cid), parallel, timeout)
    finally:
        client.close()
    for one in chosen:
        one.reading, one.problems = found.get(one.spec.name, ({}, ["was not read (the probe's thread stopped)"]))


def present_tenants(settled: List[Settled]) -> List[Dict[str, Any]]:
    """The `tenant` result of every tenant present after the run (or in check mode, that would be), in order."""
    return [s.outcome.tenant for s in settled if s.present()]
