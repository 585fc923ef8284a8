"""Allocation maps for the report tests, built by the real code path (the metrics snapshot's collect()
and report/model.py) from real topology samples and tenant containers as Docker's inspect shows them,
served by a fake Docker client. GPU processes come from an NVML reading TEST DOUBLE (GpuReading rows)."""
import hashlib
import os

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.cgroup import Usage
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.collect import collect
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.gpu import GpuProcess, GpuReading, GpuUse
from ansible_collections.gpulab.dgx.plugins.module_utils.report.model import build_report
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import REPLACED_SUFFIX
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import check_topology
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.text import parse_topology_text

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "unit", "fixtures", "topologies")
GIB = 1 << 30


def fixture_text(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def a100_topology():
    """The real DGX-A100 sample (2x EPYC 7742, NPS4: 8 NUMA nodes, 256 CPUs, 8 GPUs on NV12)."""
    text = fixture_text("dgx-a100-epyc7742.txt")
    lscpu, matrix = text.split("## nvidia-smi topo -m")
    return parse_topology_text(matrix, lscpu=lscpu)


def a100_two_node_topology():
    """Constructed from the real DGX-A100 sample: the same GPUs and CPUs with the EPYCs in NPS1 (one NUMA
    node per socket, 128 CPUs each), GPUs on the node of their socket; A100 model names and UUIDs added."""
    base = a100_topology()
    nodes = {"0": {"cpus": list(range(0, 64)) + list(range(128, 192)), "distance": {"0": 10, "1": 32}},
             "1": {"cpus": list(range(64, 128)) + list(range(192, 256)), "distance": {"0": 32, "1": 10}}}
    gpus = []
    for gpu in base["gpus"]:
        node = 0 if gpu["numa_node"] < 4 else 1
        gpus.append(dict(gpu, numa_node=node, cpus=nodes[str(node)]["cpus"], name="NVIDIA A100-SXM4-40GB",
                         uuid="GPU-a100%04d-0000-0000-0000-00000000000%d" % (gpu["index"], gpu["index"])))
    return check_topology(dict(base, numa_nodes=nodes, gpus=gpus))


def sixteen_gpu_topology(one_node=False):
    """Constructed: 16 GPUs on an NVSwitch fabric (NV18 between all), 2 sockets x 48 cores x 2 threads."""
    per_node = 96
    nodes = {}
    for node in range(1 if one_node else 2):
        first = node * 48
        cpus = list(range(first, first + (96 if one_node else 48))) + list(range(96 + first, 96 + first + (96 if one_node else 48)))
        nodes[str(node)] = {"cpus": cpus, "distance": {}}
    del per_node
    gpus = [{"index": i, "numa_node": 0 if one_node else i // 8, "name": "NVIDIA H100 80GB HBM3",
             "uuid": "GPU-h100%04d-0000-0000-0000-000000000000" % i} for i in range(16)]
    for gpu in gpus:
        gpu["cpus"] = nodes[str(gpu["numa_node"])]["cpus"]
    links = dict(("%d,%d" % (i, j), "NV18") for i in range(16) for j in range(i + 1, 16))
    siblings = [[c, c + 96] for c in range(96)]
    return check_topology({"gpus": gpus, "links": links, "numa_nodes": nodes, "siblings": siblings})


def a100_mig_topology():
    """a100_two_node_topology with GPU 7 in MIG mode: three 1g.10gb instances (GPU instances 7, 8, 9)."""
    topo = dict(a100_two_node_topology())
    gpus = [dict(g) for g in topo["gpus"]]
    gpus[7]["mig_mode"] = "Enabled"
    gpus[7]["mig_instances"] = [{"profile": "1g.10gb", "gi": 7 + k, "ci": 0, "uuid": "MIG-%08d-0000-0000-0000-000000000000" % k,
                                 "memory_mib": 9984} for k in range(3)]
    return check_topology(dict(topo, gpus=gpus))


def mig_minors_text(gpus=8):
    """TEST DOUBLE of /proc/driver/nvidia-caps/mig-minors, laid out as the driver writes it (config, monitor, then
    per GPU 15 GPU instances, each with its 8 compute instances)."""
    lines = ["config 1", "monitor 2"]
    for gpu in range(gpus):
        for gi in range(15):
            lines.append("gpu%d/gi%d/access %d" % (gpu, gi, 3 + gpu * 135 + gi * 9))
            lines.extend("gpu%d/gi%d/ci%d/access %d" % (gpu, gi, ci, 4 + gpu * 135 + gi * 9 + ci) for ci in range(8))
    return "\n".join(lines) + "\n"


def fixture_topology(name):
    """A real `nvidia-smi topo -m` sample, read as gpu_info reads pasted text."""
    return parse_topology_text(fixture_text(name))


class Tenant(object):
    """A tenant container as the tenant module makes it (labels and HostConfig)."""

    def __init__(self, name, gpus=(), cpus=(), memory=64 * GIB, disk=512 * GIB, port=2200, image="gpulab/tenant:ubuntu22.04",
                 by_index=False, running=True, parked=False):
        self.name, self.gpus, self.cpus = name, list(gpus), list(cpus)
        self.memory, self.disk, self.port, self.image = memory, disk, port, image
        self.by_index, self.running, self.parked = by_index, running, parked
        self.id = hashlib.sha256(("%s/%s" % (name, parked)).encode("utf-8", "surrogatepass")).hexdigest()
        self.pid = 1000 + int(self.id[:5], 16) % 60000

    def attrs(self, topology):
        ids = dict((g["index"], g.get("uuid") or str(g["index"])) for g in topology["gpus"])
        devices = [i if isinstance(i, str) else str(i) if self.by_index else ids.get(i, "GPU-gone-%d" % i)
                   for i in self.gpus]  # a str is a device ID as it is (a MIG instance's UUID)
        cpuset = format_cpuset(self.cpus)
        labels = {"gpulab.tenant": self.name, "gpulab.cpuset": cpuset, "gpulab.ssh-port": str(self.port)}
        if self.disk:
            labels["gpulab.disk"] = str(self.disk)
        name = self.name + (REPLACED_SUFFIX if self.parked else "")
        return {"Id": self.id, "Name": "/" + name, "Image": "sha256:0",
                "State": {"Running": self.running, "Pid": self.pid if self.running else 0},
                "Config": {"Labels": labels, "Image": self.image},
                "HostConfig": {"CpusetCpus": cpuset, "CpusetMems": "", "Memory": self.memory,
                               "PortBindings": {"22/tcp": [{"HostIp": "", "HostPort": str(self.port)}]},
                               "DeviceRequests": [{"Driver": "nvidia", "DeviceIDs": devices}] if devices else None}}


class FakeApi(object):
    """Docker's low-level API as read_ledger() uses it, over fixed inspect data."""

    def __init__(self, inspected):
        self.by_id = dict((a["Id"], a) for a in inspected)

    def containers(self, all=False, size=False, filters=None):  # pylint: disable=redefined-builtin
        return [{"Id": cid} for cid in self.by_id]

    def inspect_container(self, cid):
        return self.by_id[cid]


class FakeClient(object):
    def __init__(self, inspected):
        self.api = FakeApi(inspected)


class FakeCgroups(object):
    """Cgroup reader double: a process belongs to the container whose init PID it equals."""

    def __init__(self, tenants):
        self.by_pid = dict((t.pid, t.id) for t in tenants)

    def usage(self, pid, cid):
        return Usage(1.0, 1 << 20)

    def container_of(self, pid, known):
        cid = self.by_pid.get(pid)
        return cid if cid in known else None


def nvml_reading(topology, processes=None):
    """TEST DOUBLE of NVML's per-process lists: {gpu index: [host PIDs]} (None: NVML unavailable)."""
    if processes is None:
        return lambda: GpuReading([], False, "not read (test)")
    gpus = [GpuUse(g["index"], g.get("uuid") or "GPU-%d" % g["index"],
                   [GpuProcess(pid, 1 << 30) for pid in processes.get(g["index"], [])], None) for g in topology["gpus"]]
    return lambda: GpuReading(gpus, True)


def report_for(topology, tenants, processes=None, hostname="dgx01", others=()):
    """The allocation map of `topology` with `tenants` (Tenant) as the module builds it; `others`:
    inspect dicts of containers that are not tenants; `processes`: {gpu index: [PIDs]} on the GPUs."""
    inspected = [t.attrs(topology) for t in tenants] + list(others)
    snapshot = collect(FakeClient(inspected), topology, nvml_reading(topology, processes), FakeCgroups(tenants), disk_usage=False)
    return build_report(topology, snapshot, hostname)


def three_tenants_a100():
    """The docs picture: alice (2 GPUs on node 0, NUMA-local), bob (1 GPU on node 1, NUMA-local),
    carol (1 GPU on node 1 whose CPUs were put on node 0: a NUMA split)."""
    topology = a100_two_node_topology()
    tenants = [Tenant("alice", [0, 1], list(range(0, 16)) + list(range(128, 144)), 128 * GIB, 1024 * GIB, 2201),
               Tenant("bob", [4], list(range(64, 72)) + list(range(192, 200)), 64 * GIB, 512 * GIB, 2202,
                      image="gpulab/tenant:ubuntu24.04-cuda12.6.3-cudnn9-devel"),
               Tenant("carol", [5], list(range(16, 24)) + list(range(144, 152)), 64 * GIB, 256 * GIB, 2203)]
    return topology, tenants
