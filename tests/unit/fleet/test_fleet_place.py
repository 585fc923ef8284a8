"""Choosing a tenant's host in a fleet (plugins/module_utils/fleet/place.py): tenants stay where they run, a
request that fits on some NUMA node is placed, best fit leaves the fewest free GPUs on the chosen node, no node
is over-committed, the same input gives the same answer, and refusals name the largest free slot per host."""

import copy
import importlib.util
import os

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.filter.fleet_place import fleet_place
from ansible_collections.gpulab.dgx.plugins.module_utils.fleet.place import (
    FleetError, Host, Node, Request, assign, best_fit, host_from_report, plan_fleet)

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks", "fleet_bench.py")


def report(nodes, tenants=(), mig=None):
    """An allocation map as allocation_info returns it: nodes = [(GPUs, CPUs)], tenants = [(name, node, GPUs)]."""
    numa, gpus, index = [], [], 0
    held = dict(((node, k), name) for name, node, count in tenants for k in range(count))
    for node_id, (gpu_count, cpus) in enumerate(nodes):
        numa.append({"id": node_id, "free_cpus": list(range(cpus))})
        for k in range(gpu_count):
            holder = held.get((node_id, k))
            gpu = {"index": index, "numa_node": node_id, "tenants": [holder] if holder else [], "mig_mode": None,
                   "mig_instances": []}
            if mig and index in mig:
                gpu["mig_mode"] = "Enabled"
                gpu["mig_instances"] = [{"profile": p, "uuid": "MIG-%d-%d" % (index, j), "tenant": None} for j, p in enumerate(mig[index])]
            gpus.append(gpu)
            index += 1
    return {"numa_nodes": numa, "gpus": gpus, "tenants": [{"name": n} for n, _node, _c in tenants]}


def test_best_fit_takes_the_node_left_with_fewest_free_gpus():
    reports = {"a": report([(4, 64), (4, 64)]), "b": report([(2, 32), (8, 128)], [("x", 0, 1)]), "c": report([(8, 128)])}
    plan = plan_fleet([{"name": "t1", "gpus": 1, "cpus": 8}, {"name": "t2", "gpus": 4, "cpus": 8},
                       {"name": "t3", "gpus": 8, "cpus": 8}, {"name": "t4", "gpus": 0, "cpus": 4}], reports)
    # t1: b's node 0 has 1 free GPU; t2: a node of a with exactly 4; t3: b's or c's 8-GPU node, both leave 0 there
    # and on their host, and the same CPUs: by name, b; t4 (no GPU): where no GPU is left, b.
    assert plan == {"t1": "b", "t2": "a", "t3": "b", "t4": "b"}
    # c stays whole for the next 8-GPU tenant.
    assert plan_fleet([{"name": "t5", "gpus": 8, "cpus": 8}], reports) == {"t5": "c"}


def test_a_tenant_that_runs_stays_and_a_pinned_one_goes_where_it_is_pinned():
    reports = {"a": report([(8, 128)], [("old", 0, 2)]), "b": report([(8, 128)])}
    plan = plan_fleet([{"name": "old", "gpus": 2, "cpus": 8}, {"name": "pin", "gpus": 1, "cpus": 1, "host": "b"}], reports)
    assert plan == {"old": "a", "pin": "b"}
    with pytest.raises(FleetError, match="tenant old runs on a, not on b where it is pinned"):
        plan_fleet([{"name": "old", "host": "b"}], reports)
    with pytest.raises(FleetError, match="pinned to host z, which is not among the fleet's hosts"):
        plan_fleet([{"name": "new", "host": "z"}], reports)


def test_a_name_on_two_hosts_or_listed_twice_is_refused():
    with pytest.raises(FleetError, match="tenant x is on two hosts, a and b"):
        plan_fleet([], {"a": report([(8, 128)], [("x", 0, 1)]), "b": report([(8, 128)], [("x", 0, 1)])})
    with pytest.raises(FleetError, match="listed twice"):
        plan_fleet([{"name": "y"}, {"name": "y"}], {"a": report([(8, 128)])})


def test_a_full_fleet_refuses_naming_the_largest_free_slot_of_every_host():
    reports = {"a": report([(4, 64), (4, 64)], [("p", 0, 3), ("q", 1, 2)]), "b": report([(8, 16)])}
    with pytest.raises(FleetError) as caught:
        plan_fleet([{"name": "big", "gpus": 3, "cpus": 32}], reports)
    words = str(caught.value)
    assert "tenant big (3 GPU(s), 32 CPUs, numa_policy strict) fits on no host" in words
    assert "a: 2 GPU(s) and 64 CPUs on NUMA node 1 (3 GPUs free in all)" in words
    assert "b: 8 GPU(s) and 16 CPUs on NUMA node 0 (8 GPUs free in all)" in words
    # best-effort may spread over a's two nodes
    assert plan_fleet([{"name": "big", "gpus": 3, "cpus": 32, "numa_policy": "best-effort"}], reports) == {"big": "a"}


def test_mig_requests_count_free_instances_of_their_profile():
    reports = {"a": report([(2, 64)], mig={0: ["1g.10gb"] * 7}), "b": report([(2, 64)])}
    assert plan_fleet([{"name": "m", "mig": {"profile": "1g.10gb", "count": 3}, "cpus": 4}], reports) == {"m": "a"}
    with pytest.raises(FleetError, match="4 x MIG 3g.40gb"):
        plan_fleet([{"name": "m", "mig": {"profile": "3g.40gb", "count": 4}, "cpus": 4}], reports)
    # A GPU in MIG mode is never counted as a whole GPU.
    assert host_from_report("a", reports["a"]).free_gpus() == 1


@pytest.mark.parametrize("entry, words", [
    ("alice", "gpulab_fleet_tenants[0]: must be a tenant"),
    ({"gpus": 1}, "gpulab_fleet_tenants[0].name"),
    ({"name": "a", "gpus": -1}, "gpulab_fleet_tenants[a].gpus: -1"),
    ({"name": "a", "cpus": True}, "gpulab_fleet_tenants[a].cpus: True"),
    ({"name": "a", "numa_policy": "loose"}, "gpulab_fleet_tenants[a].numa_policy: 'loose'"),
    ({"name": "a", "host": 5}, "gpulab_fleet_tenants[a].host: 5"),
    ({"name": "a", "mig": "1g.10gb"}, "gpulab_fleet_tenants[a].mig"),
])
def test_bad_entries_fail_naming_the_field(entry, words):
    with pytest.raises(FleetError) as caught:
        plan_fleet([entry], {"a": report([(8, 128)])})
    assert words in str(caught.value)


def test_the_filter_fails_as_ansible_expects_naming_the_problem():
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="fleet_place: no host's allocation map was read"):
        fleet_place([{"name": "a"}], {})
    done = fleet_place([{"name": "a", "gpus": 1, "cpus": 1, "host": "h"}, {"name": "gone", "state": "absent"},
                        {"name": "never", "state": "absent"}],
                       {"h": report([(1, 1)]), "i": report([(1, 1)], [("gone", 0, 0)])})
    assert done == {"placed": {"a": "h", "gone": "i"}, "chosen": [],
                    "hosts": {"h": [{"name": "a", "gpus": 1, "cpus": 1}], "i": [{"name": "gone", "state": "absent"}]}}
    assert fleet_place([{"name": "n", "gpus": 1}], {"h": report([(1, 1)])})["chosen"] == ["n"]


hosts_st = st.lists(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 64)), min_size=1, max_size=4), min_size=1, max_size=5)
requests_st = st.lists(st.tuples(st.integers(0, 8), st.integers(0, 64), st.sampled_from(["strict", "best-effort"])), max_size=25)


def build(shapes):
    return [Host("h%d" % i, [Node(k, g, c) for k, (g, c) in enumerate(nodes)]) for i, nodes in enumerate(shapes)]


@settings(max_examples=300, database=None)
@given(hosts_st, requests_st)
def test_no_node_is_over_committed_and_a_request_that_fits_is_placed(shapes, stream):
    hosts = build(shapes)
    for n, (gpus, cpus, policy) in enumerate(stream):
        request = Request("t%d" % n, gpus, cpus, policy)
        fits_local = any(node.gpus >= gpus and node.cpus >= cpus for h in hosts for node in h.nodes)
        try:
            assign(hosts, [request])
        except FleetError:
            assert not fits_local  # refused only when no node can take it
            continue
        for host in hosts:
            for node in host.nodes:
                assert node.gpus >= 0 and node.cpus >= 0


@settings(max_examples=200, database=None)
@given(hosts_st, requests_st)
def test_best_fit_is_deterministic_and_leaves_the_fewest_free_gpus_on_its_node(shapes, stream):
    for n, (gpus, cpus, _policy) in enumerate(stream):
        request = Request("t%d" % n, gpus, cpus)
        hosts = build(shapes)
        try:
            host, node = best_fit(hosts, request)
        except FleetError:
            continue
        again = best_fit(build(copy.deepcopy(shapes)), request)
        assert (again[0].name, again[1].id) == (host.name, node.id)
        fitting = [nd.gpus - gpus for h in hosts for nd in h.nodes if nd.gpus >= gpus and nd.cpus >= cpus]
        assert node.gpus - gpus == min(fitting)


def test_best_fit_places_more_than_first_fit_on_the_benchmark_fleet():
    spec = importlib.util.spec_from_file_location("fleet_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.compare(streams=40, seed=3)
    assert result["best fit"][0] > result["first fit"][0]  # tenants placed before the first refusal
    assert result["best fit"][2] < result["first fit"][2]  # GPUs stranded then


def test_a_tenant_that_lost_a_race_is_placed_on_another_host():
    reports = {"a": report([(1, 8)]), "b": report([(4, 64)])}
    assert plan_fleet([{"name": "r", "gpus": 1}], reports) == {"r": "a"}
    assert plan_fleet([{"name": "r", "gpus": 1}], reports, exclude={"r": ["a"]}) == {"r": "b"}
    with pytest.raises(FleetError, match="fits on no host"):
        plan_fleet([{"name": "r", "gpus": 1}], reports, exclude={"r": ["a", "b"]})
