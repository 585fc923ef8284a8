"""Shared GPUs (gpu_share): the option's checks, and an allocation that shares only among sharers, fills shared GPUs
first, keeps what a sharer holds, never shares a dedicated or MIG GPU and never gives a shared GPU to a dedicated
tenant."""

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc import allocate
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc_share import MAX_SHARERS
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import TenantRecord
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, validate_spec

from test_tenant_units import params, record


def uuid(i):
    return "GPU-%08d-0000-4000-8000-000000000000" % i


def topology():
    """Node 0: GPUs 0, 1 and CPUs 0-3; node 1: GPUs 2 (MIG mode), 3 and CPUs 4-7."""
    gpus = [{"index": i, "uuid": uuid(i), "numa_node": i // 2} for i in range(4)]
    gpus[2]["mig_mode"] = "Enabled"
    gpus[2]["mig_instances"] = [{"profile": "7g.80gb", "gi": 0, "ci": 0, "uuid": "MIG-00000002-0000-5000-8000-000000000000"}]
    return {"gpus": gpus, "links": {}, "siblings": [],
            "numa_nodes": {"0": {"cpus": [0, 1, 2, 3], "distance": {"0": 10, "1": 20}},
                           "1": {"cpus": [4, 5, 6, 7], "distance": {"0": 20, "1": 10}}}}


def sharer(name, gpus, cpuset):
    rec = record(name, [uuid(g) for g in gpus], cpuset)
    rec.attrs["Config"]["Labels"]["gpulab.gpu-share"] = "time-slice"
    return TenantRecord(rec.attrs)


@pytest.mark.parametrize("value, field, words", [
    (1, "gpu_share", "must be a dict"),
    ({"gpus": 1, "slices": 2}, "gpu_share", "is not a gpu_share key"),
    ({"gpus": 0}, "gpu_share.gpus", "from 1 to 64"),
    ({"gpus": True}, "gpu_share.gpus", "from 1 to 64"),
    ({"mode": "mps"}, "gpu_share.mode", "is not offered"),
    ({"mode": "spatial"}, "gpu_share.mode", "is not one of time-slice"),
])
def test_bad_share_requests_name_the_field(value, field, words):
    with pytest.raises(SpecError) as caught:
        validate_spec(params(gpus=0, gpu_share=value))
    assert caught.value.field == field and words in caught.value.reason


def test_sharing_does_not_mix_with_dedicated_gpus_or_mig():
    with pytest.raises(SpecError, match="cannot be combined with gpus 1"):
        validate_spec(params(gpus=1, gpu_share={"gpus": 1}))
    with pytest.raises(SpecError, match="cannot be combined with mig"):
        validate_spec(params(gpus=0, mig={"profile": "1g.10gb"}, gpu_share={}))


def test_a_sharer_joins_a_gpu_already_shared_and_a_dedicated_tenant_never_gets_it():
    spec = validate_spec(params(gpus=0, cpus=1, gpu_share={"gpus": 1}))
    alloc = allocate(spec, None, [sharer("bob", [1], "0")], topology())
    assert alloc.gpu_indices == [1] and alloc.cpuset == "1" and "1 other tenant(s) on GPU 1" in alloc.notes[0]
    dedicated = validate_spec(params(gpus=1, cpus=1))
    assert allocate(dedicated, None, [sharer("bob", [1], "0")], topology()).gpu_indices == [0]
    with pytest.raises(SpecError):  # GPUs 0 and 3 are free but not on one node with 1 held as shared
        allocate(validate_spec(params(gpus=3, cpus=1)), None, [sharer("bob", [1], "0")], topology())


def test_a_dedicated_or_mig_gpu_is_never_shared_and_a_full_gpu_takes_no_more():
    spec = validate_spec(params(gpus=0, cpus=1, gpu_share={"gpus": 1}))
    alloc = allocate(spec, None, [record("ann", [uuid(0)], "0")], topology())
    assert alloc.gpu_indices == [3]  # not GPU 0 (ann's), not GPU 2 (MIG); node 1 has more free CPUs than GPU 1's
    full = [sharer("s%d" % i, [3], "") for i in range(MAX_SHARERS)] + [record("ann", [uuid(0)], "0")]
    assert allocate(spec, None, full, topology()).gpu_indices == [1]
    with pytest.raises(SpecError) as caught:
        allocate(spec, None, full + [record("zed", [uuid(1)], "4")], topology())
    assert caught.value.field == "gpu_share"


def test_a_sharer_keeps_its_gpu_while_its_request_is_unchanged():
    spec = validate_spec(params(gpus=0, cpus=1, gpu_share={"gpus": 1}))
    mine = sharer("alice", [3], "5")
    alloc = allocate(spec, mine, [sharer("bob", [1], "0")], topology())
    assert alloc.gpu_indices == [3] and not alloc.placed


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(st.tuples(st.sampled_from(["share", "dedicated"]), st.integers(1, 2), st.integers(0, 2)), max_size=12))
def test_a_stream_of_requests_never_mixes_sharers_and_dedicated_tenants_on_a_gpu(stream):
    others = []
    for number, (kind, gpus, cpus) in enumerate(stream):
        over = {"gpus": 0, "gpu_share": {"gpus": gpus}} if kind == "share" else {"gpus": gpus}
        spec = validate_spec(params(name="t%d" % number, cpus=cpus, **over))
        try:
            alloc = allocate(spec, None, others, topology())
        except SpecError:
            continue
        assert 2 not in alloc.gpu_indices  # the MIG GPU is never handed out whole
        rec = (sharer if kind == "share" else lambda n, g, c: record(n, [uuid(x) for x in g], c))(
            "t%d" % number, alloc.gpu_indices, alloc.cpuset)
        others.append(rec)
        holders = {}
        for other in others:
            for gid in other.gpu_ids:
                holders.setdefault(gid, []).append(bool(other.gpu_share))
        for kinds in holders.values():
            assert all(kinds) or kinds == [False], holders  # shared by sharers only, or one dedicated tenant
            assert len(kinds) <= MAX_SHARERS
