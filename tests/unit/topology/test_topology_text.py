# -*- coding: utf-8 -*-
"""Every real sample parses into the GPUs, NUMA nodes, CPU lists and links it shows.

Expected values below were written by reading the fixture files, not taken from the parser.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

import pytest

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError, link_score
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.text import (
    parse_lscpu, parse_numactl, parse_topology_text)

from .conftest import a100_lscpu, fixture_text


def cpus(text):
    return parse_cpuset(text)


def links_of(topo):
    return topo["links"]


def all_pairs(n):
    return ["%d,%d" % (i, j) for i in range(n) for j in range(i + 1, n)]


def test_4x_pcie_single_switch():
    topo = parse_topology_text(fixture_text("4x-pcie-single-switch-pix.txt"))
    assert [g["index"] for g in topo["gpus"]] == [0, 1, 2, 3]
    assert [g["numa_node"] for g in topo["gpus"]] == [0, 0, 0, 0]
    for gpu in topo["gpus"]:
        assert gpu["cpus"] == cpus("0-19,40-59")
        assert gpu["uuid"] is None and gpu["memory_mib"] is None
    assert topo["links"] == dict((k, "PIX") for k in all_pairs(4))
    assert list(topo["numa_nodes"]) == ["0"]
    assert topo["numa_nodes"]["0"]["cpus"] == cpus("0-19,40-59")
    # "0-19,40-59" is two equal ranges: CPU n and n+40 are taken as hyperthread pairs.
    assert topo["siblings"] == [[n, n + 40] for n in range(20)]


def test_8x_pcie_asymmetric():
    topo = parse_topology_text(fixture_text("8x-pcie-node-phb-asymmetric-6plus2.txt"))
    assert [g["numa_node"] for g in topo["gpus"]] == [0, 0, 0, 0, 0, 0, 1, 1]
    assert topo["gpus"][0]["cpus"] == cpus("0-15,32-47")
    assert topo["gpus"][7]["cpus"] == cpus("16-31,48-63")
    assert topo["numa_nodes"]["0"]["cpus"] == cpus("0-15,32-47")
    assert topo["numa_nodes"]["1"]["cpus"] == cpus("16-31,48-63")
    expected = {}
    for key in all_pairs(8):
        i, j = map(int, key.split(","))
        if (i, j) in ((1, 2), (3, 4), (6, 7)):
            expected[key] = "PHB"
        elif i < 6 and j < 6:
            expected[key] = "NODE"
        else:
            expected[key] = "SYS"
    assert topo["links"] == expected


def test_dgx_a100_with_lscpu():
    text = fixture_text("dgx-a100-epyc7742.txt")
    topo = parse_topology_text(text, lscpu=a100_lscpu())
    assert [g["numa_node"] for g in topo["gpus"]] == [3, 3, 1, 1, 7, 7, 5, 5]
    assert topo["gpus"][0]["cpus"] == cpus("48-63,176-191")
    assert topo["gpus"][2]["cpus"] == cpus("16-31,144-159")
    assert topo["gpus"][4]["cpus"] == cpus("112-127,240-255")
    assert topo["gpus"][6]["cpus"] == cpus("80-95,208-223")
    assert sorted(topo["numa_nodes"], key=int) == [str(n) for n in range(8)]
    for node, text_cpus in enumerate(["0-15,128-143", "16-31,144-159", "32-47,160-175", "48-63,176-191",
                                      "64-79,192-207", "80-95,208-223", "96-111,224-239", "112-127,240-255"]):
        assert topo["numa_nodes"][str(node)]["cpus"] == cpus(text_cpus)
    assert set(topo["links"].values()) == {"NV12"} and len(topo["links"]) == 28
    # lscpu: 256 CPUs, 2 threads per core, 128 cores: CPU n and n+128 share a core.
    assert topo["siblings"] == [[n, n + 128] for n in range(128)]


def test_dgx_a100_matrix_alone_knows_only_the_gpu_nodes():
    topo = parse_topology_text(fixture_text("dgx-a100-epyc7742.txt"))
    assert sorted(topo["numa_nodes"], key=int) == ["1", "3", "5", "7"]
    assert topo["numa_nodes"]["3"]["cpus"] == cpus("48-63,176-191")
    assert [g["numa_node"] for g in topo["gpus"]] == [3, 3, 1, 1, 7, 7, 5, 5]


def test_dgx_h200_with_gpu_numa_id_column_and_12_nics():
    topo = parse_topology_text(fixture_text("dgx-h200-12nic.txt"))
    assert [g["index"] for g in topo["gpus"]] == list(range(8))
    assert [g["numa_node"] for g in topo["gpus"]] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert topo["numa_nodes"]["0"]["cpus"] == cpus("0-55,112-167")
    assert topo["numa_nodes"]["1"]["cpus"] == cpus("56-111,168-223")
    assert topo["links"] == dict((k, "NV18") for k in all_pairs(8))


def test_dgx1_cube_mesh_without_numa_column():
    topo = parse_topology_text(fixture_text("dgx1-v100-microway.txt"))
    nv2 = {"0,3", "0,4", "1,2", "1,5", "2,3", "4,7", "5,6", "6,7"}
    nv1 = {"0,1", "0,2", "1,3", "2,6", "3,7", "4,5", "4,6", "5,7"}
    expected = dict((k, "NV2" if k in nv2 else "NV1" if k in nv1 else "SYS") for k in all_pairs(8))
    assert topo["links"] == expected
    # No NUMA Affinity column: the two CPU Affinity sets become nodes 0 and 1.
    assert [g["numa_node"] for g in topo["gpus"]] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert topo["numa_nodes"]["0"]["cpus"] == cpus("0-19,40-59")
    assert topo["numa_nodes"]["1"]["cpus"] == cpus("20-39,60-79")
    assert topo["numa_nodes"]["0"]["distance"] == {"0": 10, "1": 20}


def test_legacy_k80_space_aligned_with_soc_legend():
    topo = parse_topology_text(fixture_text("legacy-2xK80-soc.txt"))
    assert [g["index"] for g in topo["gpus"]] == [0, 1, 2, 3]
    assert topo["links"] == {"0,1": "PIX", "0,2": "PHB", "0,3": "PHB", "1,2": "PHB", "1,3": "PHB", "2,3": "PIX"}
    assert topo["numa_nodes"] == {"0": {"cpus": cpus("0-11"), "distance": {"0": 10}}}
    assert topo["siblings"] == []  # "0-11" alone cannot tell cores from threads


def test_workstation_with_prompts_and_smi_l_lines():
    topo = parse_topology_text(fixture_text("workstation-2x-rtx3090-nv4.txt"))
    assert topo["links"] == {"0,1": "NV4"}
    assert [g["name"] for g in topo["gpus"]] == ["NVIDIA GeForce RTX 3090"] * 2
    assert all(g["uuid"].startswith("GPU-") for g in topo["gpus"])
    assert [g["cpus"] for g in topo["gpus"]] == [cpus("0-23")] * 2
    assert topo["numa_nodes"]["0"]["cpus"] == cpus("0-23")


def test_gh200_lscpu_memory_only_nodes():
    info = parse_lscpu(fixture_text("lscpu-gh200-numa-9nodes-1-with-cpus.txt"))
    assert info["nodes"][0] == cpus("0-71")
    assert sorted(info["nodes"]) == list(range(9))
    assert all(info["nodes"][n] == [] for n in range(1, 9))


def test_grace_gpu_is_placed_on_the_cpus_node_not_its_memory_node():
    topo = parse_topology_text(fixture_text("constructed-gh200-topo.txt"),
                               lscpu=fixture_text("lscpu-gh200-numa-9nodes-1-with-cpus.txt"))
    assert topo["gpus"][0]["numa_node"] == 0
    assert topo["gpus"][0]["cpus"] == cpus("0-71")
    assert topo["numa_nodes"]["1"]["cpus"] == []
    assert len(topo["numa_nodes"]) == 9


def test_mig_smi_l_file_is_not_a_topology_and_says_so():
    with pytest.raises(TopologyError) as err:
        parse_topology_text(fixture_text("mig-nvidia-smi-L-examples.txt"))
    assert "nvidia-smi -L" in str(err.value)


def test_numactl_gives_nodes_and_distances():
    topo = parse_topology_text(fixture_text("constructed-2x-pcie-2node-topo.txt"),
                               numactl=fixture_text("constructed-numactl-2node.txt"))
    assert topo["numa_nodes"]["0"] == {"cpus": cpus("0-3,8-11"), "distance": {"0": 10, "1": 21}}
    assert topo["numa_nodes"]["1"] == {"cpus": cpus("4-7,12-15"), "distance": {"0": 21, "1": 10}}
    assert [g["numa_node"] for g in topo["gpus"]] == [0, 0, 1, 1]
    assert topo["links"]["0,1"] == "PIX" and topo["links"]["1,2"] == "SYS"


def test_numactl_parser_alone():
    info = parse_numactl(fixture_text("constructed-numactl-2node.txt"))
    assert info["nodes"] == {0: cpus("0-3,8-11"), 1: cpus("4-7,12-15")}
    assert info["distances"] == {"0": {"0": 10, "1": 21}, "1": {"0": 21, "1": 10}}


def test_lscpu_p_gives_exact_siblings():
    info = parse_lscpu(fixture_text("constructed-lscpu-p-2node.txt"))
    assert info["nodes"] == {0: cpus("0-7"), 1: cpus("8-15")}
    assert info["siblings"] == [[2 * n, 2 * n + 1] for n in range(8)]


def test_lscpu_e_table():
    text = ("CPU NODE SOCKET CORE L1d:L1i:L2:L3 ONLINE\n"
            "  0    0      0    0 0:0:0:0          yes\n"
            "  1    0      0    1 1:1:1:0          yes\n"
            "  2    0      0    0 0:0:0:0          yes\n"
            "  3    0      0    1 1:1:1:0          yes\n")
    info = parse_lscpu(text)
    assert info["nodes"] == {0: [0, 1, 2, 3]}
    assert info["siblings"] == [[0, 2], [1, 3]]


def _to_spaces(text):
    """The same table aligned with spaces, as a blog or a terminal copy shows it."""
    out = []
    for line in text.splitlines():
        if "\t" in line:
            fields = [f.strip() for f in line.split("\t")]
            out.append("".join(f.ljust(16) for f in fields).rstrip())
        else:
            out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize("name", ["dgx-a100-epyc7742.txt", "dgx1-v100-microway.txt",
                                  "8x-pcie-node-phb-asymmetric-6plus2.txt"])
def test_space_aligned_copy_reads_the_same(name):
    text = fixture_text(name)
    assert parse_topology_text(_to_spaces(text)) == parse_topology_text(text)


def test_crlf_and_prompt_lines_around_the_table():
    text = "user@dgx:~$ nvidia-smi topo -m\r\n" + fixture_text("dgx-h200-12nic.txt").replace("\n", "\r\n") + "user@dgx:~$ \r\n"
    assert parse_topology_text(text) == parse_topology_text(fixture_text("dgx-h200-12nic.txt"))


def test_empty_cpu_affinity_and_na_numa():
    text = ("\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\n"
            "GPU0\t X \tNV4\t\tN/A\t\tN/A\n"
            "GPU1\tNV4\t X \t\tN/A\t\tN/A\n")
    topo = parse_topology_text(text, lscpu="NUMA node0 CPU(s): 0-7\n")
    assert [g["numa_node"] for g in topo["gpus"]] == [0, 0]
    assert [g["cpus"] for g in topo["gpus"]] == [cpus("0-7")] * 2
    bare = parse_topology_text(text)
    assert [g["numa_node"] for g in bare["gpus"]] == [-1, -1]
    assert bare["numa_nodes"] == {}


def test_numa_affinity_as_a_list():
    text = ("\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\n"
            "GPU0\t X \tSYS\t0-15\t0-1\n"
            "GPU1\tSYS\t X \t0-15\t0-1\n")
    topo = parse_topology_text(text, lscpu="NUMA node0 CPU(s): 0-7\nNUMA node1 CPU(s): 8-15\n")
    assert [g["numa_node"] for g in topo["gpus"]] == [0, 0]
    assert topo["gpus"][0]["cpus"] == cpus("0-15")


def test_every_label_scores_in_design_order():
    order = ["NV12", "NV2", "NV1", "PIX", "PXB", "PHB", "NODE", "SYS"]
    scores = [link_score(label) for label in order]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)
    assert link_score("SOC") == link_score("SYS")


BAD = "\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \t{a}\t0-3\nGPU1\t{b}\t X \t{cpu}\n"


@pytest.mark.parametrize("text, message", [
    ("", "topo_matrix is empty"),
    ("nothing to see here\n", "no `nvidia-smi topo -m` table found"),
    (BAD.format(a="FOO", b="FOO", cpu="0-3"), "line 2: GPU0 to GPU1: unknown link label 'FOO'"),
    (BAD.format(a="NV2", b="NV1", cpu="0-3"), "not symmetric: row GPU0 says NV2 to GPU1, row GPU1 says NV1"),
    (BAD.format(a="NV2", b="NV2", cpu="0-x"), "line 3: GPU1 CPU Affinity: bad CPU list '0-x'"),
    ("\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \tNV1\t0-3\n", "a GPU1 column but no GPU1 row"),
    ("\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \t0-3\nGPU1\tNV1\t X \t0-3\n", "line 2: GPU0 to GPU1: unknown link label '0-3'"),
    ("\tGPU0\tGPU1\nGPU0\tNV1\tNV1\nGPU1\tNV1\t X \n", "row GPU0 should have X in its own column"),
    ("\tGPU0\tGPU1\nGPU0\t X \tNV1\nGPU0\tNV1\t X \n", "row GPU0 appears twice"),
])
def test_malformed_text_names_the_problem(text, message):
    with pytest.raises(TopologyError) as err:
        parse_topology_text(text)
    assert message in str(err.value)


def test_bad_numactl_and_lscpu_name_the_problem():
    matrix = fixture_text("constructed-2x-pcie-2node-topo.txt")
    with pytest.raises(TopologyError, match=re.escape("numactl text has no 'node N cpus:' lines")):
        parse_topology_text(matrix, numactl="hello")
    with pytest.raises(TopologyError, match=re.escape("lscpu line 1: NUMA node0 CPU(s)")):
        parse_topology_text(matrix, lscpu="NUMA node0 CPU(s): 0-3,z\n")
