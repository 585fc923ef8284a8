# -*- coding: utf-8 -*-
"""gpu_info and gpu_placement run as Ansible runs them (the shared in-process runner of tests/unit/conftest.py)."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.gpulab.dgx.plugins.modules import gpu_info, gpu_placement

from .conftest import a100_lscpu, fixture_text


@pytest.fixture
def run(run_module):
    """The shared in-process runner (tests/unit/conftest.py)."""
    return run_module


def test_gpu_info_from_text(run):
    out = run(gpu_info, {"topo_matrix": fixture_text("dgx-a100-epyc7742.txt"), "lscpu": a100_lscpu()})
    assert out["changed"] is False
    assert [g["numa_node"] for g in out["topology"]["gpus"]] == [3, 3, 1, 1, 7, 7, 5, 5]


def test_gpu_info_bad_text_fails_with_the_reason(run):
    out = run(gpu_info, {"topo_matrix": fixture_text("mig-nvidia-smi-L-examples.txt")})
    assert out["failed"] and "nvidia-smi -L" in out["msg"]


def test_gpu_placement_round_trip(run):
    topo = run(gpu_info, {"topo_matrix": fixture_text("dgx-a100-epyc7742.txt"), "lscpu": a100_lscpu()})["topology"]
    out = run(gpu_placement, {"topology": topo, "gpus": 2, "cpus": 32, "used_gpus": [0, 1]})
    assert out["changed"] is False
    assert out["placement"]["gpus"] == [2, 3]
    assert out["placement"]["cpuset"] == "16-31,144-159"


def test_gpu_placement_impossible_request(run):
    topo = {"gpus": [{"index": 0, "numa_node": 0}], "links": {}, "siblings": [],
            "numa_nodes": {"0": {"cpus": [0, 1], "distance": {"0": 10}}}}
    out = run(gpu_placement, {"topology": topo, "gpus": 2})
    assert out["failed"] and out["msg"] == "requested 2 GPUs, 1 free (indices 0)"
