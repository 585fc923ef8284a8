# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which host of a fleet a tenant goes to (docs/placement.md, "A fleet of hosts"), decided on the controller
from each host's allocation map (gpulab.dgx.allocation_info: the ledger labels and the topology, read once
per host). The tenant module on the chosen host then places the tenant exactly, under its host lock.

The rule, for a tenant without a host:
1. A tenant that already runs on a host stays there (a second run moves nobody).
2. Hosts where it fits on one NUMA node (enough free GPUs, or free MIG instances of its profile, and free
   CPUs on that node); with numa_policy best-effort, failing that, hosts where it fits across nodes.
3. Among those, best fit: the host whose fitting node is left with the fewest free GPUs, then the host
   left with the fewest free GPUs, then the fewest free CPUs on that node, then the host's name. Large
   requests keep whole nodes and hosts free; a GPU-less tenant goes where no GPU is left to strand.
A fleet where it fits nowhere refuses it, naming the largest free slot of every host."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple


class FleetError(ValueError):
    """A tenant that cannot be placed, or a fleet whose state cannot be read; the message says which and why."""


class Node(object):
    """One NUMA node's free room: whole GPUs, MIG instances by profile, CPUs."""

    def __init__(self, node_id: int, gpus: int, cpus: int, mig: Optional[Dict[str, int]] = None) -> None:
        self.id = node_id
        self.gpus = gpus
        self.cpus = cpus
        self.mig = dict(mig or {})


class Host(object):
    """One host's free room by NUMA node, and the tenants it has."""

    def __init__(self, name: str, nodes: List[Node], tenants: Optional[List[str]] = None) -> None:
        self.name = name
        self.nodes = nodes
        self.tenants = set(tenants or [])

    def free_gpus(self) -> int:
        return sum(n.gpus for n in self.nodes)

    def largest_slot(self) -> str:
        """The most GPUs (with the CPUs beside them) one NUMA node still has, as a refusal names it."""
        if not self.nodes:
            return "%s: no NUMA node" % self.name
        best = max(self.nodes, key=lambda n: (n.gpus, n.cpus))
        mig = ", ".join("%d x %s" % (c, p) for p, c in sorted(best.mig.items()) if c)
        return "%s: %d GPU(s) and %d CPUs on NUMA node %d%s (%d GPUs free in all)" % (
            self.name, best.gpus, best.cpus, best.id, "; MIG " + mig if mig else "", self.free_gpus())


class Request(object):
    """What a tenant asks for, as far as the choice of host goes."""

    def __init__(self, name: str, gpus: int = 0, cpus: int = 0, numa_policy: str = "strict",
                 mig: Optional[Tuple[str, int]] = None) -> None:
        self.name = name
        self.gpus = gpus
        self.cpus = cpus
        self.numa_policy = numa_policy
        self.mig = mig


def host_from_report(name: str, report: Dict[str, Any]) -> Host:
    """A Host from gpulab.dgx.allocation_info's `allocation`: free whole GPUs (not in MIG mode, no holder),
    free MIG instances by profile and free CPUs, per NUMA node."""
    if not isinstance(report, dict) or not isinstance(report.get("numa_nodes"), list) or not isinstance(report.get("gpus"), list):
        raise FleetError("host %s: its allocation map has no numa_nodes/gpus (was gpulab.dgx.allocation_info read?)" % name)
    nodes: Dict[int, Node] = {}
    for node in report["numa_nodes"]:
        nodes[int(node["id"])] = Node(int(node["id"]), 0, len(node.get("free_cpus") or []))
    for gpu in report["gpus"]:
        node = nodes.get(gpu.get("numa_node")) if gpu.get("numa_node") is not None else None
        if node is None:
            continue
        if gpu.get("mig_mode") == "Enabled" or gpu.get("mig_instances"):  # handed out by its instances only
            for inst in gpu.get("mig_instances") or []:
                if not inst.get("tenant"):
                    node.mig[inst["profile"]] = node.mig.get(inst["profile"], 0) + 1
        elif not gpu.get("tenants"):
            node.gpus += 1
    tenants = [t["name"] for t in report.get("tenants") or []]
    return Host(name, [nodes[k] for k in sorted(nodes)], tenants)


def _fits(node: Node, request: Request) -> bool:
    if request.mig:
        profile, count = request.mig
        return node.mig.get(profile, 0) >= count and node.cpus >= request.cpus
    return node.gpus >= request.gpus and node.cpus >= request.cpus


def _take(host: Host, node: Optional[Node], request: Request) -> None:
    """Deduct the request from the host (one node, or spread over nodes for best-effort)."""
    if node is not None:
        if request.mig:
            node.mig[request.mig[0]] -= request.mig[1]
        else:
            node.gpus -= request.gpus
        node.cpus -= request.cpus
        return
    gpus, cpus = request.gpus, request.cpus
    mig_profile, mig_count = request.mig or ("", 0)
    for each in sorted(host.nodes, key=lambda n: (-n.gpus, -n.cpus, n.id)):
        step = min(each.gpus, gpus)
        each.gpus -= step
        gpus -= step
        if mig_count:
            step = min(each.mig.get(mig_profile, 0), mig_count)
            each.mig[mig_profile] = each.mig.get(mig_profile, 0) - step
            mig_count -= step
        step = min(each.cpus, cpus)
        each.cpus -= step
        cpus -= step


def _spread_fits(host: Host, request: Request) -> bool:
    if request.mig:
        free = sum(n.mig.get(request.mig[0], 0) for n in host.nodes)
        return free >= request.mig[1] and sum(n.cpus for n in host.nodes) >= request.cpus
    return host.free_gpus() >= request.gpus and sum(n.cpus for n in host.nodes) >= request.cpus


def best_fit(hosts: List[Host], request: Request) -> Tuple[Host, Optional[Node]]:
    """(host, node) by the module's rule; node None for a best-effort spread. FleetError when none fits."""
    local: List[Tuple[Tuple[int, int, int, str], Host, Node]] = []
    for host in hosts:
        for node in host.nodes:
            if _fits(node, request):
                left_node = node.gpus - (0 if request.mig else request.gpus)
                left_host = host.free_gpus() - (0 if request.mig else request.gpus)
                local.append(((left_node, left_host, node.cpus - request.cpus, host.name), host, node))
    if local:
        _score, host, node = min(local, key=lambda item: (item[0], item[2].id))
        return host, node
    if request.numa_policy == "best-effort":
        spread = [h for h in hosts if _spread_fits(h, request)]
        if spread:
            return min(spread, key=lambda h: (h.free_gpus() - request.gpus, h.name)), None
    raise FleetError("tenant %s (%s, %d CPUs, numa_policy %s) fits on no host; the largest free slots: %s" % (
        request.name, "%d x MIG %s" % (request.mig[1], request.mig[0]) if request.mig else "%d GPU(s)" % request.gpus,
        request.cpus, request.numa_policy, "; ".join(h.largest_slot() for h in hosts) or "no host"))


def first_fit(hosts: List[Host], request: Request) -> Tuple[Host, Optional[Node]]:
    """The baseline the benchmark compares with: the first host, then node, in order, where it fits."""
    for host in hosts:
        for node in host.nodes:
            if _fits(node, request):
                return host, node
    raise FleetError("tenant %s fits on no host" % request.name)


def assign(hosts: List[Host], requests: List[Request], pinned: Optional[Dict[str, str]] = None,
           choose: Any = best_fit, exclude: Optional[Dict[str, List[str]]] = None) -> Dict[str, str]:
    """{tenant: host} for a stream of requests, in order, each placed around the ones before it. A tenant that
    already runs on a host stays there; `pinned` names a host for some; the others are chosen by `choose`.
    FleetError naming the tenant: a name on two hosts, an unknown pinned host, or no room. `exclude` names, per
    tenant, hosts not to choose (where it lost a race this run)."""
    by_name = dict((h.name, h) for h in hosts)
    where: Dict[str, str] = {}
    for host in hosts:
        for tenant in host.tenants:
            if tenant in where:
                raise FleetError("tenant %s is on two hosts, %s and %s: tenant names are unique across the fleet; "
                                 "remove one" % (tenant, where[tenant], host.name))
            where[tenant] = host.name
    out: Dict[str, str] = {}
    for request in requests:
        if request.name in out:
            raise FleetError("tenant %s is listed twice in the fleet's tenants" % request.name)
        want = (pinned or {}).get(request.name)
        if request.name in where:
            if want and want != where[request.name]:
                raise FleetError("tenant %s runs on %s, not on %s where it is pinned: move it "
                                 "(playbooks/tenant_move.yml) or remove it there first" % (request.name, where[request.name], want))
            out[request.name] = where[request.name]  # it holds its room already
            continue
        if want:
            if want not in by_name:
                raise FleetError("tenant %s is pinned to host %s, which is not among the fleet's hosts (%s)"
                                 % (request.name, want, ", ".join(sorted(by_name))))
            out[request.name] = want  # the tenant module there places it or refuses
            host = by_name[want]
            node = next((n for n in host.nodes if _fits(n, request)), None)
            _take(host, node, request)
            continue
        host, node = choose([h for h in hosts if h.name not in (exclude or {}).get(request.name, [])], request)
        _take(host, node, request)
        out[request.name] = host.name
    return out


def request_from_entry(entry: Any, position: int, default_policy: str = "strict") -> Tuple[Request, Optional[str]]:
    """(Request, pinned host or None) from one entry of the fleet's tenant list (the tenant module's keys; only
    those the choice of host needs are read here, the module checks the rest). FleetError naming the field."""
    at = "gpulab_fleet_tenants[%d]" % position
    if not isinstance(entry, dict):
        raise FleetError("%s: must be a tenant (a mapping with name, gpus, cpus, ...), not %r" % (at, type(entry).__name__))
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise FleetError("%s.name: %r must be the tenant's name" % (at, name))
    at = "gpulab_fleet_tenants[%s]" % name

    def count(key: str, value: Any, default: int) -> int:
        value = default if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FleetError("%s.%s: %r must be a whole number, 0 or more" % (at, key, value))
        return value

    host = entry.get("host")
    if host is not None and (not isinstance(host, str) or not host):
        raise FleetError("%s.host: %r must name a host of the inventory" % (at, host))
    policy = entry.get("numa_policy") or default_policy
    if policy not in ("strict", "best-effort"):
        raise FleetError("%s.numa_policy: %r must be strict or best-effort" % (at, policy))
    gpus = count("gpus", entry.get("gpus"), 0)
    mig = entry.get("mig")
    share = entry.get("gpu_share")
    mig_request: Optional[Tuple[str, int]] = None
    if mig is not None:
        if not isinstance(mig, dict) or not isinstance(mig.get("profile"), str):
            raise FleetError("%s.mig: %r must be {profile, count}" % (at, mig))
        mig_request = (mig["profile"], count("mig.count", mig.get("count"), 1))
    if share is not None:
        if not isinstance(share, dict):
            raise FleetError("%s.gpu_share: %r must be {gpus, mode}" % (at, share))
        gpus = count("gpu_share.gpus", share.get("gpus"), 1)  # counted as whole GPUs: the host surely has room
    return Request(name, gpus, count("cpus", entry.get("cpus"), 0), policy, mig_request), host


def plan_fleet(entries: Any, reports: Any, default_policy: str = "strict", choose: Any = best_fit,
               exclude: Optional[Dict[str, List[str]]] = None) -> Dict[str, str]:
    """{tenant: host} for the fleet's tenant list over {host: allocation map}. FleetError naming what is wrong.
    An entry with state absent goes to the host it is on (for its removal there), or nowhere."""
    if not isinstance(entries, list):
        raise FleetError("gpulab_fleet_tenants: must be a list of tenants, not %r" % type(entries).__name__)
    if not isinstance(reports, dict) or not reports:
        raise FleetError("no host's allocation map was read: every selected host must answer gpulab.dgx.allocation_info")
    hosts = [host_from_report(name, reports[name]) for name in sorted(reports)]
    requests: List[Request] = []
    pinned: Dict[str, str] = {}
    absent: List[str] = []
    for position, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("state") == "absent":
            absent.append(str(entry.get("name")))
            continue
        request, host = request_from_entry(entry, position, default_policy)
        requests.append(request)
        if host:
            pinned[request.name] = host
    plan = assign(hosts, requests, pinned, choose, exclude)
    for name in absent:
        plan.update((name, h.name) for h in hosts if name in h.tenants)
    return plan


def per_host(entries: List[Dict[str, Any]], plan: Dict[str, str], hosts: List[str]) -> Dict[str, List[Dict[str, Any]]]:
    """{host: its tenants' entries without `host`} for every host (an empty list for a host given none)."""
    out: Dict[str, List[Dict[str, Any]]] = dict((h, []) for h in hosts)
    for entry in entries:
        host = plan.get(entry.get("name"))
        if host is not None:
            out.setdefault(host, []).append(dict((k, v) for k, v in entry.items() if k != "host"))
    return out
