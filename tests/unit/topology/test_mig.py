"""MIG instances in the topology contract: the `nvidia-smi -L` reader on real outputs, the checks,
and what whole-GPU placement makes of a partitioned GPU."""

import pytest

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import (
    MigError, check_instances, instance_index, is_mig_uuid, mig_gpus, parse_smi_list)
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError, check_topology

from .conftest import fixture_text


def examples():
    """The real `nvidia-smi -L` outputs of mig-nvidia-smi-L-examples.txt, one text per `# --- (n)` block
    (the commented-out block 4 is read with its comment marks removed)."""
    blocks, current = [], None
    for line in fixture_text("mig-nvidia-smi-L-examples.txt").splitlines():
        if line.startswith("# --- ("):
            current = []
            blocks.append(current)
        elif current is not None and line.startswith("# GPU") or current is not None and line.startswith("#   MIG"):
            current.append(line[2:].replace("``", ""))
        elif current is not None and not line.startswith("#"):
            current.append(line)
    return ["\n".join(b) for b in blocks]


def test_seven_1g_instances_of_an_a100_80gb():
    found = parse_smi_list(examples()[0])
    assert list(found) == [0]
    assert [i["profile"] for i in found[0]] == ["1g.10gb"] * 7
    assert found[0][0]["uuid"] == "MIG-1aae4990-b962-574e-8375-119d6d9b9687"  # sorted by UUID: no IDs in -L
    assert all(i["gi"] is None and i["ci"] is None and i["memory_mib"] is None for i in found[0])


def test_balanced_layout_on_two_gpus():
    found = parse_smi_list(examples()[1])
    assert sorted(found) == [0, 1]
    assert sorted(i["profile"] for i in found[1]) == ["1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"]
    assert "MIG-51872ee5-5410-564e-abd2-27382756d2d4" in [i["uuid"] for i in found[1]]


def test_mixed_host_lists_only_partitioned_gpus():
    found = parse_smi_list(examples()[3])
    assert sorted(found) == [2, 4]
    assert [i["profile"] for i in found[4]] == ["3g.40gb", "3g.40gb"]


def test_the_process_table_is_not_a_listing():
    assert parse_smi_list(examples()[4]) == {}


def test_a_mig_line_before_any_gpu_fails():
    with pytest.raises(MigError, match="before any GPU"):
        parse_smi_list("  MIG 1g.10gb     Device  0: (UUID: MIG-feb88891-0321-5fef-9c87-d4af3b54259e)\n")


def test_old_style_mig_uuids_are_mig_uuids():
    assert is_mig_uuid("MIG-GPU-8e100991-ce97-6694-b8eb-b8b1ff5053af/1/0")
    assert is_mig_uuid("MIG-feb88891-0321-5fef-9c87-d4af3b54259e")
    assert not is_mig_uuid("GPU-8e100991-ce97-6694-b8eb-b8b1ff5053af")
    assert not is_mig_uuid("MIG-../../etc")


@pytest.mark.parametrize("raw, words", [
    ("1g.10gb", "must be a list"),
    ([{"profile": "big", "uuid": "MIG-feb88891-0321-5fef-9c87-d4af3b54259e"}], "profile 'big'"),
    ([{"profile": "1g.10gb", "uuid": "GPU-feb88891-0321-5fef-9c87-d4af3b54259e"}], "expected MIG-"),
    ([{"profile": "1g.10gb", "uuid": "MIG-feb88891-0321-5fef-9c87-d4af3b54259e", "gi": -1}], "gi must be"),
    ([{"profile": "1g.10gb", "uuid": "MIG-feb88891-0321-5fef-9c87-d4af3b54259e", "ci": True}], "ci must be"),
    ([{"profile": "1g.10gb", "uuid": "MIG-feb88891-0321-5fef-9c87-d4af3b54259e"}] * 2, "twice"),
])
def test_bad_instance_lists_name_the_gpu_and_field(raw, words):
    with pytest.raises(MigError, match="GPU 3") as caught:
        check_instances(3, raw)
    assert words in str(caught.value)


def topology_with(instances_by_gpu):
    gpus = [{"index": i, "numa_node": 0, "uuid": "GPU-%08d-0000-0000-0000-000000000000" % i} for i in range(2)]
    for index, instances in instances_by_gpu.items():
        gpus[index]["mig_mode"] = "Enabled"
        gpus[index]["mig_instances"] = instances
    return {"gpus": gpus, "numa_nodes": {"0": {"cpus": [0, 1], "distance": {"0": 10}}}}


def test_the_contract_check_keeps_and_sorts_instances():
    a = {"profile": "3g.40gb", "gi": 2, "ci": 0, "uuid": "MIG-51872ee5-5410-564e-abd2-27382756d2d4", "memory_mib": 40192}
    b = {"profile": "3g.40gb", "gi": 1, "ci": 0, "uuid": "MIG-dcf43e8e-5d19-5fa8-8b1d-8aaca1e467f0", "memory_mib": 40192}
    topo = check_topology(topology_with({1: [a, b]}))
    assert topo["gpus"][1]["mig_instances"] == [b, a]
    assert "mig_instances" not in topo["gpus"][0]
    assert instance_index(topo)[a["uuid"]]["gpu"] == 1
    assert mig_gpus(topo) == [1]


def test_one_instance_on_two_gpus_is_refused():
    inst = {"profile": "1g.10gb", "uuid": "MIG-feb88891-0321-5fef-9c87-d4af3b54259e"}
    with pytest.raises(TopologyError, match="listed on GPUs 0 and 1"):
        check_topology(topology_with({0: [inst], 1: [inst]}))


def test_a_gpu_with_mig_on_and_no_instances_is_not_whole():
    assert mig_gpus(check_topology(topology_with({0: []}))) == [0]
