# -*- coding: utf-8 -*-
"""The host reader, against a fake sysfs tree under tmp_path and NvmlTestDouble, a TEST DOUBLE
of the pynvml module (this machine has no GPU); plus the real sysfs of the machine running the
tests for the NUMA/CPU part."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import pytest

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.placement import place
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.host import (
    read_host_topology, sysfs_bus_id)


class NvmlTestDouble(object):
    """TEST DOUBLE of pynvml: answers the calls read_host_topology makes from a small table."""

    NVML_FEATURE_ENABLED = 1
    NVML_DEVICE_MIG_ENABLE = 1
    NVML_NVLINK_MAX_LINKS = 18
    NVML_NVLINK_DEVICE_TYPE_GPU = 0
    NVML_NVLINK_DEVICE_TYPE_SWITCH = 2

    class NVMLError(Exception):
        pass

    class _Obj(object):
        def __init__(self, **kw):
            self.__dict__.update(kw)

    def __init__(self, gpus, nvlinks=None, pcie=None, init_error=None, mig_devices=None):
        # gpus: [(bus_id, name, mib, mig)], nvlinks: {gpu: [remote bus id per link]},
        # pcie: {(i, j): level}, mig_devices: {gpu: {slot: (profile, gi, ci, mib)}} (7 slots per GPU)
        self.gpus = gpus
        self.mig_devices = mig_devices or {}
        self.nvlinks = nvlinks or {}
        self.pcie = pcie or {}
        self.init_error = init_error
        self.calls = []

    def nvmlInit(self):
        self.calls.append("init")
        if self.init_error:
            raise self.NVMLError(self.init_error)

    def nvmlShutdown(self):
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetUUID(self, h):
        if isinstance(h, tuple):  # a MIG device handle: (gpu, slot)
            return "MIG-7e570000-0000-5000-8000-%06d%06d" % h
        return "GPU-test-double-%d" % h

    def nvmlDeviceGetPciInfo(self, h):
        return self._Obj(busId=self.gpus[h][0].encode())

    def nvmlDeviceGetName(self, h):
        if isinstance(h, tuple):
            return "%s MIG %s" % (self.gpus[h[0]][1], self.mig_devices[h[0]][h[1]][0])
        return self.gpus[h][1]

    def nvmlDeviceGetMemoryInfo(self, h):
        if isinstance(h, tuple):
            return self._Obj(total=self.mig_devices[h[0]][h[1]][3] * 1024 * 1024)
        return self._Obj(total=self.gpus[h][2] * 1024 * 1024)

    def nvmlDeviceGetMaxMigDeviceCount(self, h):
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h, slot):
        if slot not in self.mig_devices.get(h, {}):
            raise self.NVMLError("Not Found")
        return (h, slot)

    def nvmlDeviceGetGpuInstanceId(self, h):
        return self.mig_devices[h[0]][h[1]][1]

    def nvmlDeviceGetComputeInstanceId(self, h):
        return self.mig_devices[h[0]][h[1]][2]

    def nvmlDeviceGetMigMode(self, h):
        if self.gpus[h][3] is None:
            raise self.NVMLError("Not Supported")
        return (1 if self.gpus[h][3] else 0, 0)

    def nvmlDeviceGetNvLinkState(self, h, link):
        if link >= len(self.nvlinks.get(h, [])):
            raise self.NVMLError("Invalid Argument")
        return 1

    def nvmlDeviceGetNvLinkRemotePciInfo_v2(self, h, link):
        return self._Obj(busId=self.nvlinks[h][link])

    def nvmlDeviceGetTopologyCommonAncestor(self, a, b):
        return self.pcie.get((min(a, b), max(a, b)), 50)


def write(root, rel, text):
    path = os.path.join(str(root), rel)
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write(text)


def fake_sysfs(root, nodes, distances, threads=2, pci=None):
    """nodes: {id: "cpulist"}; SMT pairs are (n, n + total/2) when threads == 2."""
    for node, cpus in nodes.items():
        write(root, "devices/system/node/node%d/cpulist" % node, cpus + "\n")
        write(root, "devices/system/node/node%d/distance" % node, " ".join(str(d) for d in distances[node]) + "\n")
    every = sorted(c for text in nodes.values() for c in parse_cpuset(text))
    half = len(every) // 2
    for cpu in every:
        group = "%d" % cpu if threads == 1 else ("%d,%d" % (cpu, cpu + half) if cpu < half else "%d,%d" % (cpu - half, cpu))
        write(root, "devices/system/cpu/cpu%d/topology/thread_siblings_list" % cpu, group + "\n")
    for bus, (numa, local) in (pci or {}).items():
        write(root, "bus/pci/devices/%s/numa_node" % bus, "%d\n" % numa)
        write(root, "bus/pci/devices/%s/local_cpulist" % bus, local + "\n")
    return str(root)


BUS = ["00000000:07:00.0", "00000000:0F:00.0", "00000000:47:00.0", "00000000:4E:00.0"]


def two_socket(tmp_path):
    return fake_sysfs(tmp_path, {0: "0-3,8-11", 1: "4-7,12-15"}, {0: [10, 21], 1: [21, 10]}, pci={
        "0000:07:00.0": (0, "0-3,8-11"), "0000:0f:00.0": (0, "0-3,8-11"),
        "0000:47:00.0": (1, "4-7,12-15"), "0000:4e:00.0": (1, "4-7,12-15")})


def test_bus_id_as_sysfs_names_it():
    assert sysfs_bus_id("00000000:0F:00.0") == "0000:0f:00.0"
    assert sysfs_bus_id("0000:0f:00.0") == "0000:0f:00.0"


def test_direct_nvlink_bonds_pcie_and_numa(tmp_path):
    root = two_socket(tmp_path)
    # NVLink bonds: 0-1 x2, 2-3 x2, 0-2 x1; the rest over PCIe.
    nvml = NvmlTestDouble(
        gpus=[(BUS[0], "Test GPU", 40960, False), (BUS[1], "Test GPU", 40960, True),
              (BUS[2], "Test GPU", 40960, None), (BUS[3], "Test GPU", 40960, None)],
        nvlinks={0: [BUS[1], BUS[1], BUS[2]], 1: [BUS[0], BUS[0]], 2: [BUS[3], BUS[3], BUS[0]], 3: [BUS[2], BUS[2]]},
        pcie={(0, 3): 50, (1, 2): 50, (1, 3): 50})
    topo = read_host_topology(root, nvml=nvml)
    assert topo["links"] == {"0,1": "NV2", "2,3": "NV2", "0,2": "NV1", "0,3": "SYS", "1,2": "SYS", "1,3": "SYS"}
    assert [g["numa_node"] for g in topo["gpus"]] == [0, 0, 1, 1]
    assert topo["gpus"][0]["cpus"] == parse_cpuset("0-3,8-11")
    assert topo["gpus"][0]["pci_bus_id"] == BUS[0] and topo["gpus"][0]["uuid"] == "GPU-test-double-0"
    assert [g["mig_mode"] for g in topo["gpus"]] == ["Disabled", "Enabled", None, None]
    assert topo["gpus"][0]["memory_mib"] == 40960
    assert topo["numa_nodes"]["1"] == {"cpus": parse_cpuset("4-7,12-15"), "distance": {"0": 21, "1": 10}}
    assert [0, 8] in topo["siblings"] and [7, 15] in topo["siblings"]
    assert nvml.calls == ["init", "shutdown"]


def test_mig_instances_read_through_nvml_device_handles(tmp_path):
    root = two_socket(tmp_path)
    # GPU 1 is partitioned (two 3g.20gb in slots 0 and 2, slot 1 empty); GPU 0 has MIG on, no instance yet.
    nvml = NvmlTestDouble(
        gpus=[(BUS[0], "NVIDIA A100-SXM4-40GB", 40960, True), (BUS[1], "NVIDIA A100-SXM4-40GB", 40960, True),
              (BUS[2], "NVIDIA A100-SXM4-40GB", 40960, False), (BUS[3], "Test GPU", 40960, None)],
        mig_devices={1: {2: ("3g.20gb", 2, 0, 19968), 0: ("3g.20gb", 1, 0, 19968)}})
    topo = read_host_topology(root, nvml=nvml)
    assert topo["gpus"][0]["mig_instances"] == []
    assert topo["gpus"][1]["mig_instances"] == [
        {"profile": "3g.20gb", "gi": 1, "ci": 0, "uuid": "MIG-7e570000-0000-5000-8000-000001000000", "memory_mib": 19968},
        {"profile": "3g.20gb", "gi": 2, "ci": 0, "uuid": "MIG-7e570000-0000-5000-8000-000001000002", "memory_mib": 19968}]
    assert "mig_instances" not in topo["gpus"][2] and "mig_instances" not in topo["gpus"][3]


def test_pcie_levels_map_to_nvidia_smi_labels(tmp_path):
    root = two_socket(tmp_path)
    nvml = NvmlTestDouble(gpus=[(b, "G", 1, None) for b in BUS],
                          pcie={(0, 1): 10, (0, 2): 20, (0, 3): 30, (1, 2): 40, (1, 3): 50, (2, 3): 0})
    topo = read_host_topology(root, nvml=nvml)
    assert topo["links"] == {"0,1": "PIX", "0,2": "PXB", "0,3": "PHB", "1,2": "NODE", "1,3": "SYS", "2,3": "PIX"}


def test_nvswitch_peer_links_every_gpu_on_the_fabric(tmp_path):
    root = two_socket(tmp_path)
    switches = ["00000000:C1:00.0", "00000000:C2:00.0"]
    nvml = NvmlTestDouble(gpus=[(b, "G", 1, None) for b in BUS],
                          nvlinks=dict((g, [switches[link % 2] for link in range(18)]) for g in range(4)))
    topo = read_host_topology(root, nvml=nvml)
    assert topo["links"] == dict(("%d,%d" % (i, j), "NV18") for i in range(4) for j in range(i + 1, 4))


def test_grace_memory_only_node_uses_the_cpus_node(tmp_path):
    root = fake_sysfs(tmp_path, {0: "0-71", 1: ""}, {0: [10, 80], 1: [80, 10]}, threads=1,
                      pci={"0009:01:00.0": (1, "0-71")})
    nvml = NvmlTestDouble(gpus=[("00000009:01:00.0", "GH200", 97871, False)])
    topo = read_host_topology(root, nvml=nvml)
    assert topo["gpus"][0]["numa_node"] == 0
    assert topo["numa_nodes"]["1"]["cpus"] == []
    assert topo["siblings"] == []


def test_grace_without_local_cpulist_takes_nearest_node_with_cpus(tmp_path):
    root = fake_sysfs(tmp_path, {0: "0-71", 1: "72-143", 2: "", 3: ""},
                      {0: [10, 40, 80, 120], 1: [40, 10, 120, 80], 2: [80, 120, 10, 120], 3: [120, 80, 120, 10]},
                      threads=1, pci={"0009:01:00.0": (3, "")})
    topo = read_host_topology(root, nvml=NvmlTestDouble(gpus=[("00000009:01:00.0", "GH200", 1, None)]))
    assert topo["gpus"][0]["numa_node"] == 1


def test_cpus_allowed_restricts_every_cpu_list(tmp_path):
    root = two_socket(tmp_path)
    nvml = NvmlTestDouble(gpus=[(b, "G", 1, None) for b in BUS])
    topo = read_host_topology(root, nvml=nvml, cpus_allowed=parse_cpuset("0-5,8"))
    assert topo["cpus_allowed"] == parse_cpuset("0-5,8")
    assert topo["numa_nodes"]["0"]["cpus"] == parse_cpuset("0-3,8")
    assert topo["numa_nodes"]["1"]["cpus"] == [4, 5]
    assert topo["gpus"][2]["cpus"] == [4, 5]
    # CPU 1's sibling 9 is not ours: 1 is a lone hyperthread, so 2 CPUs come as core (0,8).
    placed = place(topo, 1, 2)
    assert placed["cpus"] == [0, 8]


def test_no_driver_fails_with_a_message_that_says_so(tmp_path):
    root = two_socket(tmp_path)
    with pytest.raises(TopologyError) as err:
        read_host_topology(root, nvml=NvmlTestDouble(gpus=[], init_error="Driver Not Loaded"))
    assert "no NVIDIA driver" in str(err.value) and "Driver Not Loaded" in str(err.value)


def test_no_driver_without_require_gpus_gives_the_cpu_part(tmp_path):
    root = two_socket(tmp_path)
    # No NVIDIA device or driver in the trees (else the reader fails rather than report 0 GPUs).
    empty = str(tmp_path / "empty")
    topo = read_host_topology(root, nvml=NvmlTestDouble(gpus=[], init_error="Driver Not Loaded"), require_gpus=False,
                              dev_root=empty, proc_root=empty)
    assert topo["gpus"] == [] and topo["links"] == {} and topo["source"] is None
    assert sorted(topo["numa_nodes"]) == ["0", "1"]


def test_driver_but_no_gpus(tmp_path):
    with pytest.raises(TopologyError, match="NVML reports no GPUs"):
        read_host_topology(two_socket(tmp_path), nvml=NvmlTestDouble(gpus=[]))


def test_kernel_without_numa_is_one_node(tmp_path):
    write(tmp_path, "devices/system/cpu/online", "0-3\n")
    empty = str(tmp_path / "empty")
    topo = read_host_topology(str(tmp_path), nvml=NvmlTestDouble(gpus=[], init_error="x"), require_gpus=False,
                              dev_root=empty, proc_root=empty)
    assert topo["numa_nodes"] == {"0": {"cpus": [0, 1, 2, 3], "distance": {"0": 10}}}


def test_empty_tree_names_the_problem(tmp_path):
    with pytest.raises(TopologyError, match="cannot read CPUs"):
        read_host_topology(str(tmp_path), require_gpus=False)


def test_real_sysfs_of_this_machine():
    """NUMA/CPU part of the machine running the tests (no GPU needed: NVML is a double with none)."""
    topo = read_host_topology("/sys", nvml=NvmlTestDouble(gpus=[]), require_gpus=False)
    node_dirs = sorted(e[4:] for e in os.listdir("/sys/devices/system/node") if e.startswith("node") and e[4:].isdigit())
    assert sorted(topo["numa_nodes"]) == node_dirs
    allowed = sorted(os.sched_getaffinity(0))
    listed = sorted(c for n in topo["numa_nodes"].values() for c in n["cpus"])
    assert listed == allowed == topo["cpus_allowed"]
    for node, info in topo["numa_nodes"].items():
        assert info["distance"][node] == 10
    placed = place(topo, 0, 1)
    assert placed["cpus"][0] in allowed and placed["numa_local"]
