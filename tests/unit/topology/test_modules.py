# -*- coding: utf-8 -*-
"""gpu_info and gpu_placement run as Ansible runs them (arguments through patch_module_args)."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gpulab.dgx.plugins.modules import gpu_info, gpu_placement

from .conftest import a100_lscpu, fixture_text


def run(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_gpu_info_from_text(capsys):
    out = run(gpu_info, {"topo_matrix": fixture_text("dgx-a100-epyc7742.txt"), "lscpu": a100_lscpu()}, capsys)
    assert out["changed"] is False
    assert [g["numa_node"] for g in out["topology"]["gpus"]] == [3, 3, 1, 1, 7, 7, 5, 5]


def test_gpu_info_bad_text_fails_with_the_reason(capsys):
    out = run(gpu_info, {"topo_matrix": fixture_text("mig-nvidia-smi-L-examples.txt")}, capsys)
    assert out["failed"] and "nvidia-smi -L" in out["msg"]


def test_gpu_placement_round_trip(capsys):
    topo = run(gpu_info, {"topo_matrix": fixture_text("dgx-a100-epyc7742.txt"), "lscpu": a100_lscpu()}, capsys)["topology"]
    out = run(gpu_placement, {"topology": topo, "gpus": 2, "cpus": 32, "used_gpus": [0, 1]}, capsys)
    assert out["changed"] is False
    assert out["placement"]["gpus"] == [2, 3]
    assert out["placement"]["cpuset"] == "16-31,144-159"


def test_gpu_placement_impossible_request(capsys):
    topo = {"gpus": [{"index": 0, "numa_node": 0}], "links": {}, "siblings": [],
            "numa_nodes": {"0": {"cpus": [0, 1], "distance": {"0": 10}}}}
    out = run(gpu_placement, {"topology": topo, "gpus": 2}, capsys)
    assert out["failed"] and out["msg"] == "requested 2 GPUs, 1 free (indices 0)"
