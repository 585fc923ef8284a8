# -*- coding: utf-8 -*-
"""`nvidia-smi topo -m` taken inside a restricted cpuset (container, Slurm job, systemd slice).

The fixture (constructed-dgx-a100-cpuset-node3-topo.txt) is the real DGX-A100 sample with the
cpuset 48-55,176-183 applied: GPU0-1 (node 3) show a narrowed CPU Affinity, GPU2-7 an empty one;
NUMA Affinity still names each GPU's node. Expected values were written from the real sample's
lscpu and matrix, not taken from the parser.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible.module_utils import basic

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import check_topology
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.text import parse_lscpu, parse_topology_text
from ansible_collections.gpulab.dgx.plugins.modules import gpu_info, gpu_placement

from .conftest import a100_lscpu, fixture_text

RESTRICTED = "constructed-dgx-a100-cpuset-node3-topo.txt"
NODES = [3, 3, 1, 1, 7, 7, 5, 5]
NODE_CPUS = {0: "0-15,128-143", 1: "16-31,144-159", 2: "32-47,160-175", 3: "48-63,176-191",
             4: "64-79,192-207", 5: "80-95,208-223", 6: "96-111,224-239", 7: "112-127,240-255"}


def a100_numactl():
    """`numactl -H` for the same machine, in its documented format, from the lscpu node lists."""
    lines = ["available: 8 nodes (0-7)"]
    for node in range(8):
        lines.append("node %d cpus: %s" % (node, " ".join(str(c) for c in parse_cpuset(NODE_CPUS[node]))))
    return "\n".join(lines) + "\n"


def test_gpus_land_on_the_node_numa_affinity_names():
    # The old reader put GPU2-7 (empty CPU Affinity) on node 3, the only node with CPUs in the text.
    topo = parse_topology_text(fixture_text(RESTRICTED))
    assert [g["numa_node"] for g in topo["gpus"]] == NODES


def test_with_lscpu_each_gpu_has_its_nodes_full_cpu_list():
    topo = parse_topology_text(fixture_text(RESTRICTED), lscpu=a100_lscpu())
    assert [g["numa_node"] for g in topo["gpus"]] == NODES
    for gpu in topo["gpus"]:
        assert gpu["cpus"] == parse_cpuset(NODE_CPUS[gpu["numa_node"]]), gpu["index"]
    assert topo["numa_nodes"]["3"]["cpus"] == parse_cpuset("48-63,176-191")


def test_with_numactl_each_gpu_has_its_nodes_full_cpu_list():
    topo = parse_topology_text(fixture_text(RESTRICTED), numactl=a100_numactl())
    assert [g["numa_node"] for g in topo["gpus"]] == NODES
    for gpu in topo["gpus"]:
        assert gpu["cpus"] == parse_cpuset(NODE_CPUS[gpu["numa_node"]]), gpu["index"]


def test_with_lscpu_the_restriction_is_still_reported():
    topo = parse_topology_text(fixture_text(RESTRICTED), lscpu=a100_lscpu())
    assert len(topo["warnings"]) == 1
    warning = topo["warnings"][0]
    assert "restricted cpuset" in warning
    assert "GPU 2-7 CPU Affinity empty" in warning
    assert "GPU 0-1 CPU Affinity narrower than the node" in warning
    assert "full CPU lists" in warning and "pass lscpu" not in warning


def test_without_lscpu_a_warning_says_what_to_pass():
    topo = parse_topology_text(fixture_text(RESTRICTED))
    assert len(topo["warnings"]) == 1
    warning = topo["warnings"][0]
    assert warning.startswith("nvidia-smi topo -m was taken inside a restricted cpuset: GPU 2-7 CPU Affinity empty")
    assert "NUMA node taken from the NUMA Affinity column" in warning
    assert "pass lscpu or numactl -H output" in warning
    # Nothing better is known: GPU0-1 keep what the text shows, GPU2-7 have none.
    assert topo["gpus"][0]["cpus"] == parse_cpuset("48-55,176-183")
    assert topo["gpus"][2]["cpus"] == []
    assert topo["numa_nodes"]["1"]["cpus"] == []


def test_without_lscpu_gpus_on_one_node_share_the_union_of_their_cells():
    text = ("\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\n"
            "GPU0\t X \tNV4\t0-3\t0\n"
            "GPU1\tNV4\t X \t\t0\n")
    topo = parse_topology_text(text)
    assert [g["numa_node"] for g in topo["gpus"]] == [0, 0]
    assert [g["cpus"] for g in topo["gpus"]] == [[0, 1, 2, 3]] * 2
    assert "GPU 1 CPU Affinity empty" in topo["warnings"][0]


def test_gpus_of_one_node_with_different_cells_show_narrowing():
    text = ("\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\n"
            "GPU0\t X \tNV4\t0-7\t0\n"
            "GPU1\tNV4\t X \t0-3\t0\n")
    topo = parse_topology_text(text)
    assert [g["cpus"] for g in topo["gpus"]] == [list(range(8))] * 2
    assert "GPU 1 CPU Affinity narrower than the node" in topo["warnings"][0]


def test_an_unrestricted_sample_gives_no_warning():
    text = fixture_text("dgx-a100-epyc7742.txt")
    assert "warnings" not in parse_topology_text(text)
    assert "warnings" not in parse_topology_text(text, lscpu=a100_lscpu())
    assert "warnings" not in parse_topology_text(text, numactl=a100_numactl())


def test_memory_only_node_is_not_taken_for_a_restriction():
    topo = parse_topology_text(fixture_text("constructed-gh200-topo.txt"),
                               lscpu=fixture_text("lscpu-gh200-numa-9nodes-1-with-cpus.txt"))
    assert "warnings" not in topo


def test_check_topology_keeps_warnings_and_checks_them():
    topo = parse_topology_text(fixture_text(RESTRICTED), lscpu=a100_lscpu())
    assert check_topology(topo)["warnings"] == topo["warnings"]
    bad = dict(topo, warnings="not a list")
    try:
        check_topology(bad)
    except ValueError as exc:
        assert "warnings" in str(exc)
    else:
        raise AssertionError("a warnings value that is not a list of strings was accepted")


def test_lscpu_nodes_match_the_table_above():
    nodes = parse_lscpu(a100_lscpu())["nodes"]
    assert nodes == dict((n, parse_cpuset(c)) for n, c in NODE_CPUS.items())


def test_modules_pass_the_warning_on(run_module, monkeypatch):
    warned = []
    for module in (gpu_info, gpu_placement):
        monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg, **kw: warned.append(msg))
    out = run_module(gpu_info, {"topo_matrix": fixture_text(RESTRICTED), "lscpu": a100_lscpu()})
    assert not out["failed"]
    assert warned == out["topology"]["warnings"]
    del warned[:]
    placed = run_module(gpu_placement, {"topology": out["topology"], "gpus": 2, "cpus": 32, "used_gpus": [0, 1]})
    assert not placed["failed"]
    assert placed["placement"]["gpus"] == [2, 3]
    assert placed["placement"]["cpuset"] == "16-31,144-159"
    assert warned == out["topology"]["warnings"]
