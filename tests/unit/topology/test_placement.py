# -*- coding: utf-8 -*-
"""Placements that matter in practice, and requests that cannot be met."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import itertools

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.placement import PlacementError, place
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.text import parse_topology_text

from .conftest import a100_lscpu, fixture_text


def a100():
    return parse_topology_text(fixture_text("dgx-a100-epyc7742.txt"), lscpu=a100_lscpu())


def dgx1():
    return parse_topology_text(fixture_text("dgx1-v100-microway.txt"))


def asym():
    return parse_topology_text(fixture_text("8x-pcie-node-phb-asymmetric-6plus2.txt"))


def test_a100_two_gpus_from_one_numa_node_with_that_nodes_cores():
    topo = a100()
    used_gpus, used_cpus = [], []
    node_of_gpu = {0: 3, 1: 3, 2: 1, 3: 1, 4: 7, 5: 7, 6: 5, 7: 5}  # from the file's NUMA Affinity column
    node_cpus = {3: "48-63,176-191", 1: "16-31,144-159", 7: "112-127,240-255", 5: "80-95,208-223"}
    for _tenant in range(4):
        got = place(topo, 2, 16, used_gpus, used_cpus)
        nodes = set(node_of_gpu[g] for g in got["gpus"])
        assert len(nodes) == 1
        node = nodes.pop()
        assert set(got["cpus"]) <= set(parse_cpuset(node_cpus[node]))
        # 16 CPUs = 8 whole cores: CPU n and n+128 together.
        assert all((c + 128 in got["cpus"]) if c < 128 else (c - 128 in got["cpus"]) for c in got["cpus"])
        assert got["numa_local"] and got["numa_nodes"] == [node]
        assert got["score"]["weakest_link"] == "NV12"
        used_gpus += got["gpus"]
        used_cpus += got["cpus"]
    assert sorted(used_gpus) == list(range(8))


def test_a100_first_pair_exact_answer():
    got = place(a100(), 2, 32)
    assert got["gpus"] == [0, 1]
    assert got["cpuset"] == "48-63,176-191"


def test_dgx1_cube_mesh_pairs_are_nv2():
    topo = dgx1()
    used = []
    pairs = []
    for _tenant in range(4):
        got = place(topo, 2, 4, used_gpus=used)
        pairs.append(got["gpus"])
        used += got["gpus"]
        assert got["score"]["weakest_link"] == "NV2"
    # NV2 pairs read from the matrix: 0-3, 1-2 on CPU socket 0; 4-7, 5-6 on socket 1.
    assert pairs == [[0, 3], [1, 2], [4, 7], [5, 6]]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sets(st.integers(0, 7), max_size=4))
def test_8x_pcie_four_gpu_tenant_never_spans_sockets_when_one_socket_can_hold_it(used):
    topo = asym()
    socket = {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 1, 7: 1}  # NUMA Affinity column of the file
    free = [g for g in range(8) if g not in used]
    fits_one = any(sum(1 for g in free if socket[g] == s) >= 4 for s in (0, 1))
    got = place(topo, 4, 8, used_gpus=sorted(used))
    if fits_one:
        assert len(set(socket[g] for g in got["gpus"])) == 1
    assert not set(got["gpus"]) & used


def test_asymmetric_box_two_gpu_request_fills_the_smaller_node_first():
    got = place(asym(), 2, 8)
    assert got["gpus"] == [6, 7]
    assert set(got["cpus"]) <= set(parse_cpuset("16-31,48-63"))


def test_gpu_less_tenant_takes_one_node_with_most_free_whole_cores():
    topo = dgx1()
    used = parse_cpuset("0-9,40-49")  # socket 0 half used
    got = place(topo, 0, 16, used_cpus=used)
    assert set(got["cpus"]) <= set(parse_cpuset("20-39,60-79"))
    assert got["numa_nodes"] == [1] and got["numa_local"]


def test_whole_cores_before_lone_hyperthreads():
    topo = dgx1()
    # Take one thread of cores 0..3 (CPUs 0-3): their siblings 40-43 become lone threads.
    got = place(topo, 1, 8, used_cpus=[0, 1, 2, 3])
    assert got["cpus"] == [4, 5, 6, 7, 44, 45, 46, 47]
    assert got["score"]["lone_threads"] == 0 and got["score"]["whole_cores"] == 4
    # An odd count: the last CPU is a lone thread, keeping whole cores whole.
    got = place(topo, 1, 3, used_cpus=[0, 1, 2, 3])
    assert got["cpus"] == [4, 40, 44]


def test_strict_fails_naming_what_it_cannot_meet():
    with pytest.raises(PlacementError) as err:
        place(asym(), 2, 40, used_gpus=[0, 1, 2, 3, 4, 5])
    assert "numa_policy strict" in str(err.value) and "40 free CPUs" in str(err.value)
    assert "best-effort" in str(err.value)


def test_best_effort_spills_to_the_nearest_node_and_says_so():
    topo = parse_topology_text(fixture_text("constructed-2x-pcie-2node-topo.txt"),
                               numactl=fixture_text("constructed-numactl-2node.txt"))
    got = place(topo, 2, 10, used_gpus=[2, 3], numa_policy="best-effort")
    assert got["gpus"] == [0, 1]
    assert not got["numa_local"]
    assert set(parse_cpuset("0-3,8-11")) <= set(got["cpus"])
    assert got["score"]["spilled_cpus"] == 2
    assert "2 of 10 CPUs spilled" in got["notes"][0] and "node 1 (distance 21)" in got["notes"][0]


def test_best_effort_spills_in_distance_order():
    topo = {"gpus": [{"index": 0, "numa_node": 0}],
            "links": {},
            "numa_nodes": {"0": {"cpus": [0, 1], "distance": {"0": 10, "1": 30, "2": 12}},
                           "1": {"cpus": [2, 3], "distance": {"0": 30, "1": 10, "2": 30}},
                           "2": {"cpus": [4, 5], "distance": {"0": 12, "1": 30, "2": 10}}},
            "siblings": []}
    got = place(topo, 1, 4, numa_policy="best-effort")
    assert got["cpus"] == [0, 1, 4, 5]


@pytest.mark.parametrize("kwargs, message", [
    (dict(gpus=4, cpus=0, used_gpus=[1, 2, 3, 4, 6, 7]), "requested 4 GPUs, 2 free (indices 0,5)"),
    (dict(gpus=9, cpus=0), "requested 9 GPUs, 8 free"),
    (dict(gpus=0, cpus=81), "requested 81 CPUs, 80 free"),
    (dict(gpus=0, cpus=41), "no single NUMA node has that many free (most: 40 on node 0)"),
    (dict(gpus=-1, cpus=0), "gpus must be >= 0"),
    (dict(gpus=1, cpus="lots"), "cpus must be a whole number"),
    (dict(gpus=1, cpus=1, numa_policy="loose"), "numa_policy must be one of strict, best-effort"),
])
def test_impossible_requests_name_the_problem(kwargs, message):
    with pytest.raises(PlacementError) as err:
        place(dgx1(), **kwargs)
    assert message in str(err.value)


def test_bad_topology_dict_names_the_problem():
    with pytest.raises(PlacementError, match="bad topology: GPU 0 is on NUMA node 4, which numa_nodes does not list"):
        place({"gpus": [{"index": 0, "numa_node": 4}], "numa_nodes": {}}, 1, 0)
    with pytest.raises(PlacementError, match="topology has no 'gpus' key"):
        place({"numa_nodes": {}}, 1, 0)
    with pytest.raises(PlacementError, match="unknown link label 'FAST'"):
        place({"gpus": [{"index": 0, "numa_node": -1}, {"index": 1, "numa_node": -1}],
               "links": {"0,1": "FAST"}, "numa_nodes": {}}, 1, 0)


def test_deterministic_and_indifferent_to_input_order():
    topo = dgx1()
    first = place(topo, 3, 10, used_gpus=[5, 0], used_cpus=[3, 1])
    topo_reordered = dict(topo, gpus=list(reversed(topo["gpus"])))
    assert place(topo_reordered, 3, 10, used_gpus=[0, 5], used_cpus=[1, 3]) == first


def test_exact_search_matches_brute_force_on_the_top_criteria():
    """Weakest link, then fewest NUMA nodes, must be the best any subset reaches."""
    from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import link_score
    topo = dgx1()
    node = dict((g["index"], g["numa_node"]) for g in topo["gpus"])
    for k in range(2, 7):
        best = max((min(link_score(topo["links"]["%d,%d" % p]) for p in itertools.combinations(s, 2)),
                    -len(set(node[g] for g in s))) for s in itertools.combinations(range(8), k))
        got = place(topo, k, 0)
        assert (got["score"]["weakest_link_score"], -got["score"]["numa_node_count"]) == best


def test_more_than_16_gpus_uses_the_bounded_search():
    gpus = [{"index": i, "numa_node": i // 10} for i in range(20)]
    links = {}
    for i in range(20):
        for j in range(i + 1, 20):
            links["%d,%d" % (i, j)] = "NV4" if i // 5 == j // 5 else ("NODE" if i // 10 == j // 10 else "SYS")
    topo = {"gpus": gpus, "links": links, "siblings": [],
            "numa_nodes": {"0": {"cpus": list(range(0, 8)), "distance": {"0": 10, "1": 20}},
                           "1": {"cpus": list(range(8, 16)), "distance": {"0": 20, "1": 10}}}}
    got = place(topo, 5, 4, used_gpus=[0])
    assert got["score"]["weakest_link"] == "NV4"
    assert got["gpus"] in ([5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19])


def sixteen_gpu_nvswitch(one_node):
    """16 GPUs on an NVSwitch fabric (NV6 between all), on one NUMA node or two (8 + 8)."""
    gpus = [{"index": i, "numa_node": 0 if one_node or i < 8 else 1} for i in range(16)]
    links = dict(("%d,%d" % (i, j), "NV6") for i in range(16) for j in range(i + 1, 16))
    nodes = ({"0": {"cpus": list(range(32)), "distance": {"0": 10}}} if one_node else
             {"0": {"cpus": list(range(16)), "distance": {"0": 10, "1": 21}},
              "1": {"cpus": list(range(16, 32)), "distance": {"0": 21, "1": 10}}})
    return {"gpus": gpus, "links": links, "siblings": [], "numa_nodes": nodes}


@pytest.mark.parametrize("topo_name", ["nvswitch-1-node", "nvswitch-2-nodes", "dgx-a100", "dgx1-cube-mesh", "asym"])
def test_twin_pruning_keeps_the_exhaustive_answer(monkeypatch, topo_name):
    """Taking interchangeable GPUs in index order only (placement._earlier_twins) gives exactly what
    the exhaustive search over every subset gives, on seeded partly used states."""
    import random
    from ansible_collections.gpulab.dgx.plugins.module_utils.topology import placement
    topo = {"nvswitch-1-node": lambda: sixteen_gpu_nvswitch(True), "nvswitch-2-nodes": lambda: sixteen_gpu_nvswitch(False),
            "dgx-a100": a100, "dgx1-cube-mesh": dgx1, "asym": asym}[topo_name]()
    rng = random.Random(topo_name)
    n = len(topo["gpus"])
    requests = []
    for _request in range(12):
        used = sorted(rng.sample(range(n), rng.randint(0, n // 2)))
        requests.append((used, rng.randint(1, n - len(used)), rng.choice([0, 2]), rng.choice(["strict", "best-effort"])))

    def answers():
        out = []
        for used, k, c, policy in requests:
            try:
                out.append(place(topo, k, c, used_gpus=used, numa_policy=policy))
            except PlacementError as exc:
                out.append(str(exc))
        return out

    pruned = answers()
    monkeypatch.setattr(placement, "_earlier_twins", lambda nodes, score: [-1] * len(nodes))
    assert answers() == pruned


def test_a_checked_topology_is_checked_once_and_places_alike():
    """A run checks its topology once (tenant/run.py); checking the result again costs nothing and
    placing on it gives what placing on the raw topology gives."""
    from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import CheckedTopology, check_topology
    raw = parse_topology_text(fixture_text("dgx-a100-epyc7742.txt"), lscpu=a100_lscpu())
    checked = check_topology(raw)
    assert isinstance(checked, CheckedTopology) and checked is not raw
    assert check_topology(checked) is checked
    for used in ([], [0, 1], [2, 5, 7]):
        assert place(checked, 2, 8, used_gpus=used) == place(raw, 2, 8, used_gpus=used)
