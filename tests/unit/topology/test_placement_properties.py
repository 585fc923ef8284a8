# -*- coding: utf-8 -*-
"""Property tests: across random streams of requests and releases on every shared topology, no
GPU or CPU is handed out twice, every answer meets the hard constraints, and every refusal is
justified."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import itertools

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.placement import PlacementError, place
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.text import parse_topology_text

from .conftest import a100_lscpu, fixture_text

TOPOLOGIES = {
    "dgx-a100": lambda: parse_topology_text(fixture_text("dgx-a100-epyc7742.txt"), lscpu=a100_lscpu()),
    "dgx-h200": lambda: parse_topology_text(fixture_text("dgx-h200-12nic.txt")),
    "dgx1": lambda: parse_topology_text(fixture_text("dgx1-v100-microway.txt")),
    "8x-asym": lambda: parse_topology_text(fixture_text("8x-pcie-node-phb-asymmetric-6plus2.txt")),
    "4x-pix": lambda: parse_topology_text(fixture_text("4x-pcie-single-switch-pix.txt")),
    "k80": lambda: parse_topology_text(fixture_text("legacy-2xK80-soc.txt")),
    "2x-numactl": lambda: parse_topology_text(fixture_text("constructed-2x-pcie-2node-topo.txt"),
                                              numactl=fixture_text("constructed-numactl-2node.txt")),
}
CACHE = {}


def topology(name):
    if name not in CACHE:
        CACHE[name] = TOPOLOGIES[name]()
    return CACHE[name]


# One step: ("place", gpus, cpus, policy) or ("release", which tenant).
STEP = st.one_of(
    st.tuples(st.just("place"), st.integers(0, 4), st.integers(0, 48), st.sampled_from(["strict", "best-effort"])),
    st.tuples(st.just("release"), st.integers(0, 20)),
)


def check_answer(topo, got, k, c, policy, used_gpus, used_cpus):
    node_of_cpu = dict((cpu, int(n)) for n, info in topo["numa_nodes"].items() for cpu in info["cpus"])
    gpu_node = dict((g["index"], g["numa_node"]) for g in topo["gpus"])
    assert len(got["gpus"]) == k and len(set(got["gpus"])) == k
    assert len(got["cpus"]) == c and len(set(got["cpus"])) == c
    assert not set(got["gpus"]) & used_gpus, "GPU handed out twice"
    assert not set(got["cpus"]) & used_cpus, "CPU handed out twice"
    assert set(got["cpus"]) <= set(node_of_cpu)
    home = set(gpu_node[g] for g in got["gpus"])
    if k and c:
        local = all(node_of_cpu[cpu] in home for cpu in got["cpus"])
        assert got["numa_local"] == local
        if policy == "strict":
            assert local
    if not k and c and policy == "strict":
        assert len(set(node_of_cpu[cpu] for cpu in got["cpus"])) == 1
    # Whole cores first: CPUs from split/lone cores only as far as whole free cores ran short.
    core_of = {}
    for group in topo["siblings"]:
        for cpu in group:
            core_of[cpu] = tuple(group)
    picked = set(got["cpus"])
    nodes = set(node_of_cpu[cpu] for cpu in picked)
    whole_before = [core for core in set(core_of.get(cpu, (cpu,)) for cpu, n in node_of_cpu.items() if n in nodes)
                    if not set(core) & used_cpus]
    partial = [cpu for cpu in picked if not set(core_of.get(cpu, (cpu,))) <= picked]
    room_whole = sum(len(core) for core in whole_before)
    assert len(partial) <= (c % 2) + max(0, c - room_whole)


def strict_refusal_is_justified(topo, k, c, used_gpus, used_cpus):
    """No k free GPUs have c free CPUs on their own nodes (brute force; <= 8 GPUs here)."""
    gpu_node = dict((g["index"], g["numa_node"]) for g in topo["gpus"])
    free_by_node = dict((int(n), len(set(info["cpus"]) - used_cpus)) for n, info in topo["numa_nodes"].items())
    free = [g for g in gpu_node if g not in used_gpus]
    if k == 0:
        return max(free_by_node.values() or [0]) < c
    for subset in itertools.combinations(free, k):
        if sum(free_by_node[n] for n in set(gpu_node[g] for g in subset)) >= c:
            return False
    return True


@pytest.mark.parametrize("name", sorted(TOPOLOGIES))
@settings(max_examples=25, deadline=None, derandomize=True)
@given(steps=st.lists(STEP, min_size=1, max_size=14))
def test_streams_never_hand_out_twice(name, steps):
    topo = topology(name)
    tenants = []
    for step in steps:
        used_gpus = set(g for t in tenants for g in t["gpus"])
        used_cpus = set(c for t in tenants for c in t["cpus"])
        if step[0] == "release":
            if tenants:
                tenants.pop(step[1] % len(tenants))
            continue
        k, c, policy = step[1:]
        try:
            got = place(topo, k, c, sorted(used_gpus), sorted(used_cpus), numa_policy=policy)
        except PlacementError as exc:
            msg = str(exc)
            total_cpus = sum(len(info["cpus"]) for info in topo["numa_nodes"].values())
            if msg.startswith("requested %d GPUs" % k):
                assert k > len(topo["gpus"]) - len(used_gpus)
            elif msg.startswith("requested %d CPUs" % c):
                assert c > total_cpus - len(used_cpus)
            else:
                assert policy == "strict" and "numa_policy strict" in msg
                assert strict_refusal_is_justified(topo, k, c, used_gpus, used_cpus)
            continue
        check_answer(topo, got, k, c, policy, used_gpus, used_cpus)
        assert place(topo, k, c, sorted(used_gpus), sorted(used_cpus), numa_policy=policy) == got
        tenants.append(got)
