"""Burn-in and MIG: a GPU in MIG mode is never tested (gpu-burn tests whole GPUs), and a tenant holding a MIG
instance holds its GPU for the burn-in's refusal as a tenant holding the whole GPU does."""

import pytest

from ansible_collections.gpulab.dgx.plugins.module_utils.burnin.flow import Refused, choose, held_gpus

MIG_A = "MIG-feb88891-0321-5fef-9c87-d4af3b54259e"
MIG_B = "MIG-a25704ba-3a06-5299-a795-fd7cf4d13973"


class Record(object):
    def __init__(self, name, gpu_ids):
        self.name, self.gpu_ids = name, gpu_ids


class Ledger(object):
    def __init__(self, *records):
        self.tenants = dict((r.name, r) for r in records)
        self.leftovers = {}


def gpus():
    return [{"index": 0, "uuid": "GPU-0", "pci_bus_id": "00000000:07:00.0", "mig_mode": False, "mig_uuids": []},
            {"index": 1, "uuid": "GPU-1", "pci_bus_id": "00000000:0F:00.0", "mig_mode": True, "mig_uuids": [MIG_A]}]


def test_a_mig_tenant_holds_its_gpu_and_the_default_run_refuses_naming_it():
    held = held_gpus(Ledger(Record("carol", [MIG_A])), gpus())
    assert held == {1: "carol"}
    with pytest.raises(Refused, match="tenants hold GPUs \\(1: carol\\)"):
        choose(gpus(), None, held)


def test_an_instance_nvml_did_not_list_still_counts_as_held():
    held = held_gpus(Ledger(Record("dave", [MIG_B])), gpus())
    assert held == {-1: "dave"}
    with pytest.raises(Refused, match="a MIG instance: dave"):
        choose(gpus(), None, held)
    assert [g["index"] for g in choose(gpus(), [0], held)] == [0]  # a whole GPU named as free is tested


def test_gpus_in_mig_mode_are_refused_when_named_and_left_out_otherwise():
    with pytest.raises(Refused, match=r"names GPU\(s\) \[1\] in MIG mode"):
        choose(gpus(), [1], {})
    assert [g["index"] for g in choose(gpus(), None, {})] == [0]
    with pytest.raises(Refused, match="every GPU is in MIG mode"):
        choose([dict(g, mig_mode=True) for g in gpus()], None, {})
