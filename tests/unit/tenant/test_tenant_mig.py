"""A tenant asking for MIG instances: the `mig` option's checks, and the allocation that keeps, places
and refuses instances against other tenants' (whole GPUs and instances alike)."""

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc import allocate
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, validate_spec
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.ids import gpu_ids

from test_tenant_units import params, record


def mig(gpu, slot):
    return "MIG-%08d-0000-5000-8000-%012d" % (gpu, slot)


def topology():
    """Node 0: GPU 0 with 1g.10gb x4, GPU 1 whole; node 1: GPU 2 with 1g.10gb x2 and 3g.40gb x1."""
    def instances(gpu, profiles):
        return [{"profile": p, "gi": s + 1, "ci": 0, "uuid": mig(gpu, s)} for s, p in enumerate(profiles)]
    return {
        "gpus": [
            {"index": 0, "uuid": "GPU-00000000-0000-4000-8000-000000000000", "numa_node": 0, "mig_mode": "Enabled",
             "mig_instances": instances(0, ["1g.10gb"] * 4)},
            {"index": 1, "uuid": "GPU-00000001-0000-4000-8000-000000000000", "numa_node": 0, "mig_mode": "Disabled"},
            {"index": 2, "uuid": "GPU-00000002-0000-4000-8000-000000000000", "numa_node": 1, "mig_mode": "Enabled",
             "mig_instances": instances(2, ["1g.10gb", "1g.10gb", "3g.40gb"])}],
        "links": {},
        "numa_nodes": {"0": {"cpus": [0, 1, 2, 3], "distance": {"0": 10, "1": 20}},
                       "1": {"cpus": [4, 5, 6, 7], "distance": {"0": 20, "1": 10}}},
        "siblings": []}


@pytest.mark.parametrize("value, field, words", [
    ("1g.10gb", "mig", "must be a dict"),
    ({"profile": "1g.10gb", "size": 2}, "mig", "is not a mig key"),
    ({"count": 1}, "mig.profile", "is not a MIG profile name"),
    ({"profile": "1g.10gb; rm -rf /"}, "mig.profile", "is not a MIG profile name"),
    ({"profile": "1g.10gb", "count": 0}, "mig.count", "from 1 to 56"),
    ({"profile": "1g.10gb", "count": True}, "mig.count", "from 1 to 56"),
    ({"profile": "1g.10gb", "count": "two"}, "mig.count", "from 1 to 56"),
])
def test_bad_mig_requests_name_the_field(value, field, words):
    with pytest.raises(SpecError) as caught:
        validate_spec(params(gpus=0, mig=value))
    assert caught.value.field == field and words in caught.value.reason


def test_whole_gpus_and_mig_instances_are_not_mixed():
    with pytest.raises(SpecError, match="cannot be combined with gpus 2"):
        validate_spec(params(gpus=2, mig={"profile": "1g.10gb"}))


@pytest.mark.parametrize("name", ["NVIDIA_VISIBLE_DEVICES", "NVIDIA_MIG_CONFIG_DEVICES", "NVIDIA_MIG_MONITOR_DEVICES"])
def test_the_runtimes_device_choice_cannot_be_set_through_env(name):
    with pytest.raises(SpecError) as caught:
        validate_spec(params(env={name: "all"}))
    assert caught.value.field == "env" and caught.value.value == name


@settings(max_examples=200, deadline=None, database=None)
@given(st.one_of(st.none(), st.text(max_size=8), st.integers(), st.dictionaries(
    st.sampled_from(["profile", "count", "x"]),
    st.one_of(st.text(max_size=10), st.sampled_from(["1g.10gb", "3g.40gb", "2"]), st.integers(-2, 60), st.booleans()))))
def test_any_mig_value_is_a_request_or_a_named_error(value):
    try:
        spec = validate_spec(params(gpus=0, mig=value))
    except SpecError as exc:
        assert exc.field.startswith("mig")
        return
    assert value is None or (spec.mig[0] == value["profile"] and 1 <= spec.mig[1] <= 56)


def test_instances_are_placed_on_the_partly_used_gpu_local_to_the_cpus():
    spec = validate_spec(params(gpus=0, cpus=2, mig={"profile": "1g.10gb"}))
    others = [record("bob", [mig(2, 0)], "4,5")]
    alloc = allocate(spec, None, others, topology())
    assert alloc.gpu_ids == [mig(2, 1)] and alloc.gpu_indices == [2] and alloc.cpuset == "6-7" and alloc.placed


def test_held_instances_are_kept_when_nothing_changed_and_others_are_never_taken():
    spec = validate_spec(params(gpus=0, cpus=2, mig={"profile": "1g.10gb", "count": 2}))
    mine = record("alice", [mig(0, 1), mig(0, 3)], "0,1")
    alloc = allocate(spec, mine, [record("bob", [mig(0, 0)], "2")], topology())
    assert alloc.gpu_ids == [mig(0, 1), mig(0, 3)] and not alloc.placed
    fewer = validate_spec(params(gpus=0, cpus=2, mig={"profile": "1g.10gb", "count": 1}))
    alloc = allocate(fewer, mine, [], topology())
    assert alloc.gpu_ids == [mig(0, 1)] and alloc.placed  # one it already held
    # Another tenant now holds one of them (a ledger edited by hand): placed again, never shared.
    alloc = allocate(spec, mine, [record("bob", [mig(0, 1)], "2")], topology())
    assert mig(0, 1) not in alloc.gpu_ids and len(alloc.gpu_ids) == 2


def test_a_gpu_held_whole_offers_no_instances_and_mig_gpus_are_not_whole():
    spec = validate_spec(params(gpus=0, cpus=1, mig={"profile": "1g.10gb", "count": 3}))
    with pytest.raises(SpecError) as caught:
        allocate(spec, None, [record("old", ["GPU-00000000-0000-4000-8000-000000000000"], "0")], topology())
    assert caught.value.field == "mig" and "2 free" in caught.value.reason
    whole = validate_spec(params(gpus=1, cpus=1))
    assert allocate(whole, None, [], topology()).gpu_indices == [1]
    with pytest.raises(SpecError, match="2 in MIG mode"):
        allocate(validate_spec(params(gpus=2, cpus=1)), None, [], topology())


def test_a_mig_uuid_maps_to_its_gpu_for_readers_of_the_ledger():
    _to_id, to_index = gpu_ids(topology())
    assert to_index[mig(2, 2)] == 2 and to_index["GPU-00000001-0000-4000-8000-000000000000"] == 1


def test_a_tenant_whose_instances_were_created_again_gets_its_slots_back_and_others_keep_off_them():
    from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import instance_slots
    before = topology()
    after = topology()
    for gpu in after["gpus"]:
        for inst in gpu.get("mig_instances") or []:
            inst["uuid"] = inst["uuid"].replace("-5000-", "-6000-")  # a reboot: same layout, new UUIDs
    slot = instance_slots(before)[mig(2, 1)]
    stale = record("alice", [mig(2, 1)], "4")
    stale.mig_slots = [slot]
    spec = validate_spec(params(gpus=0, cpus=1, mig={"profile": "1g.10gb"}))
    alloc = allocate(spec, stale, [], after)
    assert alloc.gpu_ids == [mig(2, 1).replace("-5000-", "-6000-")] and alloc.slots == [slot] and not alloc.placed
    # Another tenant placed before alice is applied again does not take the instance in her slot.
    bob = validate_spec(params(name="bob", gpus=0, cpus=1, mig={"profile": "1g.10gb", "count": 5}, numa_policy="best-effort"))
    taken = allocate(bob, None, [stale], after).gpu_ids
    assert len(taken) == 5 and mig(2, 1).replace("-5000-", "-6000-") not in taken
    greedy = validate_spec(params(name="bob", gpus=0, cpus=1, mig={"profile": "1g.10gb", "count": 6}, numa_policy="best-effort"))
    with pytest.raises(SpecError):
        allocate(greedy, None, [stale], after)
