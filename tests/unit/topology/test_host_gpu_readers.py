# -*- coding: utf-8 -*-
"""How the host reader gets at the GPUs: NVML, else nvidia-smi, and a named error (never 0 GPUs)
when a host with NVIDIA GPUs or a loaded driver can be read by neither.

No GPU here: NVML is NvmlTestDouble (a TEST DOUBLE of pynvml, from test_topology_host), nvidia-smi
is SmiTestDouble below (a TEST DOUBLE answering from the real DGX-A100 `nvidia-smi topo -m`
sample and a --query-gpu CSV written for that machine), and sysfs, /dev and /proc are fake trees
under tmp_path.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import sys

import pytest

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import NvidiaSmiError
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError, check_topology
from ansible_collections.gpulab.dgx.plugins.module_utils.topology import host as topology_host
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.host import read_host_topology

from .conftest import fixture_text
from .test_topology_host import BUS, NvmlTestDouble, fake_sysfs, two_socket, write

# The DGX-A100 sample: NUMA node CPU lists (from its lscpu) and each GPU's node (its NUMA Affinity).
A100_NODES = {0: "0-15,128-143", 1: "16-31,144-159", 2: "32-47,160-175", 3: "48-63,176-191",
              4: "64-79,192-207", 5: "80-95,208-223", 6: "96-111,224-239", 7: "112-127,240-255"}
A100_GPU_NODES = [3, 3, 1, 1, 7, 7, 5, 5]
A100_BUS = ["0000:07:00.0", "0000:0f:00.0", "0000:47:00.0", "0000:4e:00.0",
            "0000:87:00.0", "0000:90:00.0", "0000:b7:00.0", "0000:bd:00.0"]
DRIVER_NOT_LOADED = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
                     "Make sure that the latest NVIDIA driver is installed and running.\n")


def a100_topo_m():
    """The `nvidia-smi topo -m` part of the real DGX-A100 sample, verbatim."""
    return fixture_text("dgx-a100-epyc7742.txt").split("## nvidia-smi topo -m\n", 1)[1]


def a100_smi_list():
    """The constructed `nvidia-smi -L` of that machine (GPU 4 with two 3g.20gb MIG instances)."""
    return "\n".join(l for l in fixture_text("constructed-dgx-a100-nvidia-smi-L.txt").splitlines()
                     if not l.startswith("#")) + "\n"


def a100_query_gpu():
    """The constructed --query-gpu CSV for the same machine, without its comment line."""
    return fixture_text("constructed-dgx-a100-query-gpu.csv").split("\n", 1)[1]


class SmiTestDouble(object):
    """TEST DOUBLE of nvidia-smi as nvidia_smi.nvidia_smi_runner runs it: run(args) -> (rc, stdout,
    stderr), from canned answers; `calls` records the arguments. missing=True: no nvidia-smi."""

    def __init__(self, query=(0, "", ""), topo=(0, "", ""), missing=False, listing=(0, "", "")):
        self.answers = {"--query-gpu": query, "topo": topo, "-L": listing}
        self.missing = missing
        self.calls = []

    def __call__(self, args):
        self.calls.append(list(args))
        if self.missing:
            raise NvidiaSmiError("nvidia_smi_missing", "nvidia-smi was not found on the host (nvidia-smi)")
        key = "--query-gpu" if args and args[0].startswith("--query-gpu=") else (args[0] if args else "")
        return self.answers[key]


def working_smi():
    return SmiTestDouble(query=(0, a100_query_gpu(), ""), topo=(0, a100_topo_m(), ""), listing=(0, a100_smi_list(), ""))


def failing_smi():
    # nvidia-smi prints this on stdout and exits 9 when the kernel module is not loaded.
    return SmiTestDouble(query=(9, DRIVER_NOT_LOADED, ""), topo=(9, DRIVER_NOT_LOADED, ""))


def a100_sysfs(root):
    ids = sorted(A100_NODES)
    distances = dict((a, [10 if a == b else (12 if a // 4 == b // 4 else 32) for b in ids]) for a in ids)
    pci = dict((bus, (node, A100_NODES[node])) for bus, node in zip(A100_BUS, A100_GPU_NODES))
    return fake_sysfs(root, A100_NODES, distances, pci=pci)


def trees(tmp_path):
    """(sysfs, dev, proc) roots: a DGX-A100's CPUs and GPU PCI devices' NUMA nodes, empty /dev and /proc."""
    sysfs = a100_sysfs(tmp_path / "sys")
    for name in ("dev", "proc"):
        (tmp_path / name).mkdir()
    return sysfs, str(tmp_path / "dev"), str(tmp_path / "proc")


@pytest.fixture
def no_pynvml(monkeypatch):
    """The host's Python has no pynvml (nvidia-ml-py not installed): `import pynvml` fails."""
    monkeypatch.setitem(sys.modules, "pynvml", None)


def test_without_pynvml_gpus_come_from_nvidia_smi(tmp_path, no_pynvml):
    sysfs, dev, proc = trees(tmp_path)
    smi = working_smi()
    topo = read_host_topology(sysfs, require_gpus=False, run=smi, dev_root=dev, proc_root=proc)
    assert topo["source"] == "nvidia-smi"
    assert [g["index"] for g in topo["gpus"]] == list(range(8))
    gpu0 = topo["gpus"][0]
    assert gpu0["uuid"] == "GPU-1d2c3b4a-0000-4a00-8000-000000000000"
    assert gpu0["pci_bus_id"] == "00000000:07:00.0"
    assert gpu0["name"] == "NVIDIA A100-SXM4-40GB" and gpu0["memory_mib"] == 40960
    assert [g["mig_mode"] for g in topo["gpus"]] == ["Disabled"] * 4 + ["Enabled"] + ["Disabled"] * 3
    # MIG instances from `nvidia-smi -L`, asked only because a GPU has MIG on; only that GPU carries them.
    assert [i["profile"] for i in topo["gpus"][4]["mig_instances"]] == ["3g.20gb", "3g.20gb"]
    assert [g for g in range(8) if "mig_instances" in topo["gpus"][g]] == [4]
    assert ["-L"] in smi.calls
    # NUMA nodes and CPUs from sysfs (by PCI bus id), the links from topo -m.
    assert [g["numa_node"] for g in topo["gpus"]] == A100_GPU_NODES
    assert topo["gpus"][2]["cpus"] == parse_cpuset("16-31,144-159")
    assert topo["links"] == dict(("%d,%d" % (i, j), "NV12") for i in range(8) for j in range(i + 1, 8))
    assert topo["numa_nodes"]["3"]["distance"]["7"] == 32
    assert smi.calls[0][0].startswith("--query-gpu=") and smi.calls[1] == ["topo", "-m"]
    assert check_topology(topo)["source"] == "nvidia-smi"


def test_nvml_start_failure_also_falls_back_to_nvidia_smi(tmp_path):
    sysfs, dev, proc = trees(tmp_path)
    nvml = NvmlTestDouble(gpus=[], init_error="Insufficient Permissions")
    topo = read_host_topology(sysfs, nvml=nvml, run=working_smi(), dev_root=dev, proc_root=proc)
    assert topo["source"] == "nvidia-smi" and len(topo["gpus"]) == 8


def test_nvml_works_source_nvml_and_nvidia_smi_untouched(tmp_path):
    root = two_socket(tmp_path)
    smi = working_smi()
    nvml = NvmlTestDouble(gpus=[(b, "Test GPU", 40960, None) for b in BUS])
    topo = read_host_topology(root, nvml=nvml, run=smi)
    assert topo["source"] == "nvml"
    assert [g["uuid"] for g in topo["gpus"]] == ["GPU-test-double-%d" % i for i in range(4)]
    assert [g["numa_node"] for g in topo["gpus"]] == [0, 0, 1, 1]
    assert smi.calls == []


def test_gpus_present_neither_reader_works_names_both_causes(tmp_path):
    sysfs, dev, proc = trees(tmp_path)
    write(dev, "nvidia0", "")
    write(dev, "nvidiactl", "")
    nvml = NvmlTestDouble(gpus=[], init_error="Driver Not Loaded")
    with pytest.raises(TopologyError) as err:
        read_host_topology(sysfs, nvml=nvml, require_gpus=False, run=failing_smi(), dev_root=dev, proc_root=proc)
    msg = str(err.value)
    assert "%s/nvidia0" % dev in msg and "nvidiactl" not in msg
    assert "NVML: could not start (Driver Not Loaded)" in msg
    assert "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver" in msg
    assert "0 GPUs" not in msg


def test_without_pynvml_and_nvidia_smi_the_install_hint_is_given(tmp_path, no_pynvml):
    sysfs, dev, proc = trees(tmp_path)
    write(proc, "driver/nvidia/version", "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05\n")
    with pytest.raises(TopologyError) as err:
        read_host_topology(sysfs, require_gpus=False, run=SmiTestDouble(missing=True), dev_root=dev, proc_root=proc)
    msg = str(err.value)
    assert "pynvml is not installed: install nvidia-ml-py" in msg
    assert "nvidia-smi was not found on the host" in msg
    assert "the driver is loaded" in msg and "535.104.05" in msg


def test_nvidia_pci_device_and_loaded_module_in_sysfs_are_not_0_gpus(tmp_path):
    # Called as the tenant module called it before nvidia-smi existed here: this read used to
    # return gpus [] (and the tenant said "gpus: 2 is more than the 0 free of the host's 0 GPUs").
    root = two_socket(tmp_path)
    write(root, "bus/pci/devices/0000:07:00.0/vendor", "0x10de\n")
    write(root, "bus/pci/devices/0000:07:00.0/class", "0x030200\n")
    write(root, "module/nvidia/version", "535.104.05\n")
    with pytest.raises(TopologyError) as err:
        read_host_topology(root, nvml=NvmlTestDouble(gpus=[], init_error="Driver Not Loaded"), require_gpus=False)
    msg = str(err.value)
    assert "NVIDIA PCI display devices 0000:07:00.0" in msg and "nvidia kernel module is loaded" in msg
    assert "Driver Not Loaded" in msg


def test_old_pynvml_without_mig_calls_falls_back(tmp_path):
    class OldNvmlTestDouble(NvmlTestDouble):
        """TEST DOUBLE of a pynvml from before MIG (Ubuntu 22.04's python3-pynvml 7.352)."""

        def __getattribute__(self, name):
            if name == "nvmlDeviceGetMigMode":
                raise AttributeError("module 'pynvml' has no attribute %r" % name)
            return object.__getattribute__(self, name)

    sysfs, dev, proc = trees(tmp_path)
    nvml = OldNvmlTestDouble(gpus=[("00000000:07:00.0", "G", 1, None)])
    topo = read_host_topology(sysfs, nvml=nvml, run=working_smi(), dev_root=dev, proc_root=proc)
    assert topo["source"] == "nvidia-smi"
    assert nvml.calls == ["init", "shutdown"]


def test_topo_m_and_query_disagreeing_is_named(tmp_path, no_pynvml):
    sysfs, dev, proc = trees(tmp_path)
    write(dev, "nvidia0", "")
    two = "\n".join(a100_query_gpu().splitlines()[:2]) + "\n"
    smi = SmiTestDouble(query=(0, two, ""), topo=(0, a100_topo_m(), ""))
    with pytest.raises(TopologyError, match=r"--query-gpu lists GPUs \[0, 1\] but nvidia-smi topo -m shows GPUs \[0, 1, 2"):
        read_host_topology(sysfs, run=smi, dev_root=dev, proc_root=proc)


def test_cpu_only_host_has_no_gpus_and_no_error(tmp_path, no_pynvml):
    sysfs, dev, proc = trees(tmp_path)
    # Other PCI devices: an Intel VGA and an NVIDIA device that is not a GPU (an NVSwitch bridge).
    write(sysfs, "bus/pci/devices/0000:00:02.0/vendor", "0x8086\n")
    write(sysfs, "bus/pci/devices/0000:00:02.0/class", "0x030000\n")
    write(sysfs, "bus/pci/devices/0000:c1:00.0/vendor", "0x10de\n")
    write(sysfs, "bus/pci/devices/0000:c1:00.0/class", "0x068000\n")
    write(dev, "null", "")
    assert topology_host.nvidia_evidence(sysfs, dev, proc) == []
    topo = read_host_topology(sysfs, require_gpus=False, run=SmiTestDouble(missing=True), dev_root=dev, proc_root=proc)
    assert topo["gpus"] == [] and topo["links"] == {} and topo["source"] is None
    assert sorted(topo["numa_nodes"]) == [str(n) for n in range(8)]
    with pytest.raises(TopologyError, match="^no NVIDIA driver: .*pynvml is not installed"):
        read_host_topology(sysfs, run=SmiTestDouble(missing=True), dev_root=dev, proc_root=proc)


def test_evidence_lists_few_device_nodes_and_the_proc_gpus(tmp_path):
    for index in range(10):
        write(tmp_path / "dev", "nvidia%d" % index, "")
    write(tmp_path / "proc", "driver/nvidia/gpus/0000:07:00.0/information", "Model: A100\n")
    found = topology_host.nvidia_evidence(str(tmp_path / "sys"), str(tmp_path / "dev"), str(tmp_path / "proc"))
    assert found[0].endswith("/dev/nvidia3 ... (10 in all)")
    assert found[1].endswith("driver/nvidia/gpus lists 0000:07:00.0")


def test_without_mig_nvidia_smi_list_is_not_asked(tmp_path, no_pynvml):
    sysfs, dev, proc = trees(tmp_path)
    query = a100_query_gpu().replace(", Enabled, 40960, Enabled", ", Enabled, 40960, Disabled")
    smi = SmiTestDouble(query=(0, query, ""), topo=(0, a100_topo_m(), ""))
    topo = read_host_topology(sysfs, require_gpus=False, run=smi, dev_root=dev, proc_root=proc)
    assert ["-L"] not in smi.calls and all("mig_instances" not in g for g in topo["gpus"])


def test_an_unreadable_mig_listing_names_nvidia_smi_list(tmp_path, no_pynvml):
    sysfs, dev, proc = trees(tmp_path)
    smi = SmiTestDouble(query=(0, a100_query_gpu(), ""), topo=(0, a100_topo_m(), ""),
                        listing=(0, "  MIG 1g.5gb Device 0: (UUID: MIG-feb88891-0321-5fef-9c87-d4af3b54259e)\n", ""))
    with pytest.raises(TopologyError, match="nvidia-smi -L could not be read"):
        read_host_topology(sysfs, run=smi, dev_root=dev, proc_root=proc)
