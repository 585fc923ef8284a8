"""MIG instance placement: properties over generated hosts and request streams (hypothesis), and the
messages of refusals."""

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig_placement import place_mig
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.placement import PlacementError

PROFILES = ["1g.10gb", "2g.20gb", "3g.40gb"]


def mig_uuid(gpu, slot):
    return "MIG-%08d-0000-5000-8000-%012d" % (gpu, slot)


@st.composite
def hosts(draw):
    """A host of 1-3 NUMA nodes (2-8 CPUs each, SMT pairs on some) and 1-8 GPUs, each whole or
    partitioned into 0-7 instances of mixed profiles."""
    nodes = draw(st.integers(1, 3))
    numa_nodes, siblings, cpu = {}, [], 0
    for node in range(nodes):
        n = draw(st.integers(1, 4)) * 2
        cpus = list(range(cpu, cpu + n))
        cpu += n
        numa_nodes[str(node)] = {"cpus": cpus, "distance": dict((str(o), 10 if o == node else 20) for o in range(nodes))}
        if draw(st.booleans()):
            siblings += [[c, c + 1] for c in cpus[::2]]
    gpus = []
    for index in range(draw(st.integers(1, 8))):
        gpu = {"index": index, "numa_node": draw(st.integers(0, nodes - 1)), "uuid": "GPU-%08d-0000-4000-8000-000000000000" % index}
        if draw(st.booleans()):
            profiles = draw(st.lists(st.sampled_from(PROFILES), max_size=7))
            gpu["mig_mode"] = "Enabled"
            gpu["mig_instances"] = [{"profile": p, "gi": slot + 1, "ci": 0, "uuid": mig_uuid(index, slot)}
                                    for slot, p in enumerate(profiles)]
        gpus.append(gpu)
    return {"gpus": gpus, "links": {}, "numa_nodes": numa_nodes, "siblings": siblings}


requests = st.lists(st.tuples(st.sampled_from(PROFILES), st.integers(1, 4), st.integers(0, 6)), min_size=1, max_size=12)


def instances_of(topo):
    return dict((i["uuid"], (g["index"], i["profile"], g["numa_node"])) for g in topo["gpus"] for i in g.get("mig_instances") or [])


def node_of_cpu(topo):
    return dict((c, int(n)) for n, info in topo["numa_nodes"].items() for c in info["cpus"])


def fits(topo, profile, count, cpus, used_instances, used_cpus, touched_only=False):
    """Some NUMA node has `count` free instances of `profile` (on touched GPUs only, if asked) and `cpus` free CPUs."""
    inst = instances_of(topo)
    held_gpus = set(inst[u][0] for u in used_instances)
    nodes = node_of_cpu(topo)
    for node in topo["numa_nodes"]:
        free_inst = [u for u, (g, p, n) in inst.items()
                     if p == profile and n == int(node) and u not in used_instances and (not touched_only or g in held_gpus)]
        free_cpus = [c for c, n in nodes.items() if n == int(node) and c not in used_cpus]
        if len(free_inst) >= count and len(free_cpus) >= cpus:
            return True
    return False


@settings(max_examples=300, deadline=None, database=None)
@given(hosts(), requests)
def test_a_request_stream_never_hands_out_an_instance_twice_and_places_what_fits(topo, stream):
    inst = instances_of(topo)
    cpu_node = node_of_cpu(topo)
    used_instances, used_cpus = set(), set()
    for profile, count, cpus in stream:
        fitted = fits(topo, profile, count, cpus, used_instances, used_cpus)
        fitted_touched = fits(topo, profile, count, cpus, used_instances, used_cpus, touched_only=True)
        touched_before = set(inst[u][0] for u in used_instances)
        try:
            result = place_mig(topo, profile, count, cpus, used_instances=sorted(used_instances), used_cpus=sorted(used_cpus))
        except PlacementError:
            assert not fitted, (profile, count, cpus, used_instances, used_cpus)  # a request that fits is placed
            continue
        got = result["instances"]
        assert len(got) == len(set(got)) == count
        assert not set(got) & used_instances  # no instance handed out twice
        assert all(inst[u][1] == profile for u in got)
        assert len(result["cpus"]) == cpus and not set(result["cpus"]) & used_cpus
        nodes = set(inst[u][2] for u in got)
        assert len(nodes) == 1 and all(cpu_node[c] in nodes for c in result["cpus"])  # strict: one NUMA node
        assert result["gpus"] == sorted(set(inst[u][0] for u in got))
        if fitted_touched:
            # Untouched GPUs stay untouched when the instances fit on partly used ones.
            assert set(result["gpus"]) <= touched_before, (result, touched_before)
        used_instances.update(got)
        used_cpus.update(result["cpus"])


@settings(max_examples=100, deadline=None, database=None)
@given(hosts(), st.sampled_from(PROFILES), st.integers(1, 3), st.integers(0, 4), st.data())
def test_same_input_same_answer_and_gpus_held_whole_are_never_used(topo, profile, count, cpus, data):
    held_whole = data.draw(st.lists(st.sampled_from([g["index"] for g in topo["gpus"]]), unique=True))
    args = dict(used_gpus=held_whole, numa_policy=data.draw(st.sampled_from(["strict", "best-effort"])))
    try:
        first = place_mig(topo, profile, count, cpus, **args)
    except PlacementError as exc:
        with pytest.raises(PlacementError) as again:
            place_mig(topo, profile, count, cpus, **args)
        assert str(again.value) == str(exc)
        return
    assert place_mig(topo, profile, count, cpus, **args) == first
    assert not set(first["gpus"]) & set(held_whole)


def two_node_host():
    """GPU 0 (node 0): 1g x2, one already held; GPU 1 (node 0): 1g x7, untouched; GPU 2 (node 1): 3g x2;
    GPU 3 (node 1): whole."""
    def instances(gpu, profiles):
        return [{"profile": p, "gi": s + 1, "ci": 0, "uuid": mig_uuid(gpu, s)} for s, p in enumerate(profiles)]
    return {
        "gpus": [
            {"index": 0, "numa_node": 0, "mig_mode": "Enabled", "mig_instances": instances(0, ["1g.10gb"] * 2)},
            {"index": 1, "numa_node": 0, "mig_mode": "Enabled", "mig_instances": instances(1, ["1g.10gb"] * 7)},
            {"index": 2, "numa_node": 1, "mig_mode": "Enabled", "mig_instances": instances(2, ["3g.40gb"] * 2)},
            {"index": 3, "numa_node": 1, "mig_mode": "Disabled"}],
        "links": {},
        "numa_nodes": {"0": {"cpus": [0, 1, 2, 3], "distance": {"0": 10, "1": 20}},
                       "1": {"cpus": [4, 5, 6, 7], "distance": {"0": 20, "1": 10}}},
        "siblings": [[0, 1], [2, 3], [4, 5], [6, 7]]}


def test_a_partly_used_gpu_fills_before_an_untouched_one():
    result = place_mig(two_node_host(), "1g.10gb", 1, 2, used_instances=[mig_uuid(0, 0)])
    assert result["instances"] == [mig_uuid(0, 1)] and result["cpus"] == [0, 1] and result["numa_local"]


def test_cpus_come_from_the_instances_node():
    result = place_mig(two_node_host(), "3g.40gb", 2, 4)
    assert result["gpus"] == [2] and result["cpus"] == [4, 5, 6, 7] and result["numa_nodes"] == [1]


def test_too_few_instances_names_what_is_free():
    with pytest.raises(PlacementError, match=r"requested 3 MIG instance\(s\) of profile 3g.40gb, 2 free "
                                             r"\(free instances: 1g.10gb x9, 3g.40gb x2\)"):
        place_mig(two_node_host(), "3g.40gb", 3, 1)


def test_strict_refusal_names_each_node_and_best_effort_spills():
    with pytest.raises(PlacementError, match="node 1: 2 instance.s., 2 CPUs"):
        place_mig(two_node_host(), "3g.40gb", 1, 3, used_cpus=[4, 5])
    result = place_mig(two_node_host(), "3g.40gb", 1, 3, used_cpus=[4, 5], numa_policy="best-effort")
    assert result["gpus"] == [2] and not result["numa_local"] and len(result["cpus"]) == 3


@pytest.mark.parametrize("profile, count, words", [
    ("big", 1, "profile must look like"), ("1g.10gb", 0, "count must be"), ("1g.10gb", True, "count must be")])
def test_bad_requests_name_the_field(profile, count, words):
    with pytest.raises(PlacementError, match=words):
        place_mig(two_node_host(), profile, count, 1)
