"""Metrics of a tenant on MIG instances: its GPU once (a duplicate series would break the whole scrape), whole GPUs
and instances counted apart, and one gpulab_tenant_mig_info per instance with DCGM's GPU_I_ID and GPU_I_PROFILE."""

import copy

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.collect import collect
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.render import render
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.series import families

from test_metrics_module import TOPOLOGY, FakeCgroups, FakeClient, attrs, reading, samples

MIG_1 = "MIG-feb88891-0321-5fef-9c87-d4af3b54259e"
MIG_2 = "MIG-a25704ba-3a06-5299-a795-fd7cf4d13973"


def mig_topology():
    topology = copy.deepcopy(TOPOLOGY)
    topology["gpus"][3]["mig_mode"] = "Enabled"
    topology["gpus"][3]["mig_instances"] = [
        {"profile": "1g.10gb", "gi": 7, "ci": 0, "uuid": MIG_1, "memory_mib": 9856},
        {"profile": "1g.10gb", "gi": 8, "ci": 0, "uuid": MIG_2, "memory_mib": 9856}]
    return topology


def test_a_tenant_on_two_instances_of_one_gpu():
    client = FakeClient([attrs("alice", ["GPU-0"], "0-1", "0"), attrs("bob", [MIG_1, MIG_2], "4", "1")])
    text = render(families(collect(client, mig_topology(), reading, FakeCgroups())))
    got = samples(text)
    bob = [s for s in got if ("tenant", '"bob"') in s[1]]
    assert [s for s in bob if s[0] == "gpulab_tenant_gpu_info"] == [
        ("gpulab_tenant_gpu_info", (("UUID", '"GPU-3"'), ("gpu", '"3"'), ("numa_node", '"1"'), ("tenant", '"bob"')), "1")]
    assert ("gpulab_tenant_gpus", (("tenant", '"bob"'),), "0") in bob
    assert ("gpulab_tenant_gpus", (("tenant", '"alice"'),), "1") in got
    assert ("gpulab_tenant_mig_instances", (("tenant", '"bob"'),), "2") in bob
    assert ("gpulab_tenant_mig_info", (("GPU_I_ID", '"7"'), ("GPU_I_PROFILE", '"1g.10gb"'), ("UUID", '"GPU-3"'), ("gpu", '"3"'),
                                       ("mig_uuid", '"%s"' % MIG_1), ("tenant", '"bob"')), "1") in bob
    # No two samples with the same name and labels: Prometheus refuses a file that has them.
    keys = [(name, labels) for name, labels, _value in got]
    assert len(keys) == len(set(keys))


def test_gpus_only_sharers_hold_are_counted_as_shared():
    a, b = attrs("alice", ["GPU-0"], "0", "0"), attrs("bob", ["GPU-0"], "1", "0")
    for tenant in (a, b):
        tenant["Config"]["Labels"]["gpulab.gpu-share"] = "time-slice"
    client = FakeClient([a, b, attrs("carl", ["GPU-1"], "2", "0")])
    got = samples(render(families(collect(client, TOPOLOGY, reading, FakeCgroups()))))
    host = dict((labels, value) for name, labels, value in got if name == "gpulab_host_gpus")
    assert host == {(("state", '"free"'),): "2", (("state", '"held"'),): "1", (("state", '"shared"'),): "1"}
