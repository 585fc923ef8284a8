"""After a reboot MIG instances are created again with new UUIDs: slots (GPU, profile, rank) name what a
tenant holds across that; the boot restore only creates instances; tenants are moved onto the UUIDs now in
their slots, never onto one another's, and a layout that would lose a waiting tenant's slot is refused."""

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.partition.boot import restore, restorable
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.layout import Desired
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.plan import plan, waiting_slots
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.remap import create_args, plan_remap
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import TenantRecord
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.ids import gpu_ids
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import instance_slots, slot_instances

PROFILES = ["1g.10gb", "2g.20gb", "3g.40gb"]


def gpu_uuid(index):
    return "GPU-%08d-0000-4000-8000-000000000000" % index


def topology(layout, generation=0, with_ids=True):
    """layout[i]: GPU i's profiles (None: MIG off). `generation` changes every MIG UUID, as a re-creation does."""
    gpus = []
    for index, profiles in enumerate(layout):
        gpu = {"index": index, "uuid": gpu_uuid(index), "numa_node": 0, "name": "NVIDIA A100-SXM4-80GB",
               "mig_mode": "Disabled" if profiles is None else "Enabled"}
        if profiles is not None:
            gpu["mig_instances"] = [
                {"profile": p, "gi": (s + 1) if with_ids else None, "ci": 0 if with_ids else None,
                 "uuid": "MIG-%08d-%04d-5000-8000-%012d" % (index, generation, s)} for s, p in enumerate(profiles)]
        gpus.append(gpu)
    return {"gpus": gpus, "links": {}, "siblings": [],
            "numa_nodes": {"0": {"cpus": list(range(8)), "distance": {"0": 10}}}}


def tenant(name, ids, slots=None, cpuset="0"):
    labels = {"gpulab.tenant": name, "gpulab.cpuset": cpuset, "gpulab.spec-hash": "h", "gpulab.numa-policy": "strict"}
    if slots is not None:
        labels["gpulab.mig-slots"] = ",".join(slots)
    return TenantRecord({
        "Id": name + "-id", "Name": "/" + name, "State": {"Running": False}, "Image": "sha256:x",
        "Config": {"Image": "img:1", "Labels": labels, "ExposedPorts": {"22/tcp": {}}, "Hostname": name,
                   "Env": ["A=1"]},
        "HostConfig": {"CpusetCpus": cpuset, "Memory": 1 << 30, "NetworkMode": "gpulab",
                       "DeviceRequests": [{"Driver": "nvidia", "DeviceIDs": ids, "Capabilities": [["gpu"]]}],
                       "PortBindings": {"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": "2200"}]}}})


layouts = st.lists(st.one_of(st.none(), st.lists(st.sampled_from(PROFILES), max_size=7)), min_size=1, max_size=8)


@settings(max_examples=200, database=None)
@given(layouts, st.booleans(), st.booleans())
def test_slots_name_every_instance_once_and_survive_a_re_creation(layout, ids_before, ids_after):
    before = topology(layout, 0, ids_before)
    after = topology(layout, 1, ids_after)
    slots = instance_slots(before)
    assert len(set(slots.values())) == len(slots)  # one slot per instance
    now = slot_instances(after)
    assert set(now) == set(slots.values())  # the same layout again: the same slots, new UUIDs
    old = dict((i["uuid"], (g["index"], i["profile"])) for g in before["gpus"] for i in g.get("mig_instances") or [])
    new = dict((i["uuid"], (g["index"], i["profile"])) for g in after["gpus"] for i in g.get("mig_instances") or [])
    for uuid, slot in slots.items():
        assert now[slot] != uuid and new[now[slot]] == old[uuid]  # same GPU, same profile


def test_tenants_are_moved_onto_their_slots_never_onto_each_others():
    before, after = topology([["1g.10gb"] * 3, None]), topology([["1g.10gb"] * 3, None], generation=1)
    slots = instance_slots(before)
    old = [i["uuid"] for i in before["gpus"][0]["mig_instances"]]
    new = [i["uuid"] for i in after["gpus"][0]["mig_instances"]]
    records = [tenant("a", [old[2]], [slots[old[2]]]), tenant("b", [old[0], old[1]], [slots[old[0]], slots[old[1]]]),
               tenant("whole", [gpu_uuid(1)])]
    remaps, problems = plan_remap(records, after)
    assert problems == []
    assert [(r.name, r.before, r.after) for r in remaps] == [("a", [old[2]], [new[2]]), ("b", old[:2], new[:2])]
    assert plan_remap(records, before) == ([], [])  # nothing gone: nothing to move


def test_tenants_that_cannot_be_moved_are_named_with_what_to_do():
    before, after = topology([["1g.10gb"] * 2]), topology([["3g.40gb"]], generation=1)
    old = [i["uuid"] for i in before["gpus"][0]["mig_instances"]]
    slots = instance_slots(before)
    records = [tenant("unlabelled", [old[0]]), tenant("lost", [old[1]], [slots[old[1]]])]
    remaps, problems = plan_remap(records, after)
    assert remaps == []
    assert "tenant lost: slot(s) %s are not in the GPUs' layout now" % slots[old[1]] in problems[0]
    assert "tenant unlabelled holds MIG instance(s) %s that are gone" % old[0] in problems[1]
    # A slot whose new instance a leftover container already uses is not handed out again.
    again = topology([["1g.10gb"] * 2], generation=1)
    squatter = tenant("x.gpulab-replaced", [slot_instances(again)[slots[old[1]]]])
    remaps, problems = plan_remap(records[1:], again, [squatter])
    assert remaps == [] and "which another container uses" in problems[0]


def test_a_layout_that_would_lose_a_waiting_tenants_slot_is_refused():
    before, rebooted = topology([["3g.40gb", "3g.40gb"]]), topology([[]])
    old = [i["uuid"] for i in before["gpus"][0]["mig_instances"]]
    slots = instance_slots(before)
    _to_id, to_index = gpu_ids(rebooted)
    waiting = waiting_slots([tenant("a", [old[1]], [slots[old[1]]])], to_index)
    assert waiting == {0: [("a", "3g.40gb", 1)]}
    changes, refusals = plan(rebooted, {0: Desired(True, {"3g.40gb": 2})}, {}, waiting)
    assert [c.index for c in changes] == [0] and refusals == []  # the same layout: created again
    for other in ({"3g.40gb": 1}, {"1g.10gb": 7}):  # rank 1 of 3g.40gb would not exist
        changes, refusals = plan(rebooted, {0: Desired(True, other)}, {}, waiting)
        assert changes == [] and refusals[0].startswith("GPU 0: tenant a waits for its MIG instance(s) there")
    changes, refusals = plan(rebooted, {0: Desired(False)}, {}, waiting)
    assert changes == [] and len(refusals) == 1


@settings(max_examples=200, database=None)
@given(st.lists(st.tuples(st.sampled_from([None, (), ("1g.10gb",), ("3g.40gb", "3g.40gb")]),
                          st.sampled_from([None, {}, {"1g.10gb": 7}, {"3g.40gb": 2}])), min_size=1, max_size=8))
def test_the_boot_restore_never_destroys_an_instance_nor_changes_a_mode(gpus):
    now = topology([None if s is None else list(s) for s, _w in gpus])
    desired = dict((i, Desired(w is not None, w or {})) for i, (_s, w) in enumerate(gpus))
    ran = []

    def run(args):
        ran.append(args)
        return 0, "", ""

    result = restore(now, desired, run, lambda: now, check=False)
    for args in ran:
        assert args[:1] == ["mig"] and "-cgi" in args  # creation only: no -dci/-dgi, no -mig
    ok, left = restorable(plan(now, desired, {})[0])
    assert len(result["left"]) >= len(left)
    for change in ok:
        assert now["gpus"][change.index].get("mig_instances") == []


def test_a_container_is_made_again_from_its_own_configuration_with_the_new_ids():
    record = tenant("a", ["MIG-00000000-0000-5000-8000-000000000001"], ["GPU-x/1g.10gb/0"])
    kwargs = create_args(record.attrs, ["MIG-00000000-0001-5000-8000-000000000001"])
    assert kwargs["host_config"]["DeviceRequests"] == [
        {"Driver": "nvidia", "DeviceIDs": ["MIG-00000000-0001-5000-8000-000000000001"], "Capabilities": [["gpu"]]}]
    assert kwargs["labels"]["gpulab.gpus"] == "MIG-00000000-0001-5000-8000-000000000001"
    assert kwargs["labels"]["gpulab.spec-hash"] == "h" and kwargs["labels"]["gpulab.mig-slots"] == "GPU-x/1g.10gb/0"
    assert kwargs["ports"] == [("22", "tcp")] and kwargs["hostname"] == "a" and kwargs["environment"] == ["A=1"]
    assert kwargs["host_config"]["PortBindings"] == record.attrs["HostConfig"]["PortBindings"]
    assert record.attrs["HostConfig"]["DeviceRequests"][0]["DeviceIDs"] == ["MIG-00000000-0000-5000-8000-000000000001"]


@pytest.mark.parametrize("with_ids", [True, False])
def test_slots_are_ranked_per_gpu_and_profile(with_ids):
    slots = instance_slots(topology([["1g.10gb", "3g.40gb", "1g.10gb"]], with_ids=with_ids))
    assert sorted(slots.values()) == ["%s/1g.10gb/0" % gpu_uuid(0), "%s/1g.10gb/1" % gpu_uuid(0), "%s/3g.40gb/0" % gpu_uuid(0)]
