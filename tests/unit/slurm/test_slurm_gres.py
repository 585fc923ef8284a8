"""Slurm's gres.conf and NodeName line from an allocation map (plugins/plugin_utils/slurm/gres.py), built by the
real report path (report_helpers) from real topology samples: what a tenant holds is never offered, Slurm's core and
CPU numbering, MIG lines, and refusals naming the option. slurmd itself parses the output in
tests/integration/slurm/."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError
from ansible_collections.gpulab.dgx.plugins.filter.slurm_gres import slurm_gres
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import parse_cpuset
from ansible_collections.gpulab.dgx.plugins.plugin_utils.slurm.gres import (
    HEADER, CoreMap, SlurmConfigError, gpu_type, parse_mig_minors, slurm_config)
from report_helpers import (GIB, Tenant, a100_mig_topology, a100_topology, a100_two_node_topology, mig_minors_text, report_for,
                            sixteen_gpu_topology)

TOPOLOGIES = {"a100-nps4": a100_topology(), "a100-nps1": a100_two_node_topology(), "h100x16": sixteen_gpu_topology()}
MEM = 2048 * 1024


def node_fields(line):
    return dict(part.split("=", 1) for part in line.split())


def lines_of(result):
    return [dict(p.split("=", 1) for p in line.split()) for line in result["gres_conf"].splitlines()[1:]]


@st.composite
def allocations(draw):
    """A topology sample and tenants on it: each holds some GPUs (none twice) and some CPUs (none twice)."""
    name = draw(st.sampled_from(sorted(TOPOLOGIES)))
    topo = TOPOLOGIES[name]
    gpus = [g["index"] for g in topo["gpus"]]
    cpus = sorted(c for n in topo["numa_nodes"].values() for c in n["cpus"])
    free_gpus, free_cpus = list(gpus), list(cpus)
    tenants = []
    for k in range(draw(st.integers(0, 4))):
        mine = draw(st.lists(st.sampled_from(free_gpus), unique=True, max_size=3)) if free_gpus else []
        mycpus = draw(st.lists(st.sampled_from(free_cpus), unique=True, max_size=12)) if free_cpus else []
        free_gpus = [g for g in free_gpus if g not in mine]
        free_cpus = [c for c in free_cpus if c not in mycpus]
        tenants.append(Tenant("t%d" % k, gpus=mine, cpus=mycpus, memory=draw(st.integers(1, 64)) * GIB, port=2200 + k))
    return topo, tenants


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(allocations(), st.integers(0, 4096))
def test_slurm_is_offered_exactly_what_no_tenant_holds(case, reserve):
    topo, tenants = case
    report = report_for(topo, tenants)
    out = slurm_config(report, "dgx01", 2, MEM, reserve)
    held_gpus = set(g for t in tenants for g in t.gpus)
    held_cpus = set(c for t in tenants for c in t.cpus)
    offered = [int(line["File"][len("/dev/nvidia"):]) for line in lines_of(out)]
    assert offered == sorted(set(g["index"] for g in topo["gpus"]) - held_gpus)
    cores = CoreMap(report["numa_nodes"])
    held_cores = set(cores.core_of[c] for c in held_cpus)
    by_index = dict((g["index"], g) for g in topo["gpus"])
    for line in lines_of(out):
        gpu = by_index[int(line["File"][len("/dev/nvidia"):])]
        local = set(cores.core_of[c] for c in topo["numa_nodes"][str(gpu["numa_node"])]["cpus"])
        given_cores = set(parse_cpuset(line.get("Cores", "")))
        assert given_cores == local - held_cores  # the GPU's own NUMA node, less every core a tenant touches
    fields = node_fields(out["node_line"])
    total = sum(len(n["cpus"]) for n in topo["numa_nodes"].values())
    assert int(fields["CPUs"]) == total == int(fields["SocketsPerBoard"]) * int(fields["CoresPerSocket"]) * int(fields["ThreadsPerCore"])
    # CpuSpecList names the tenants' CPUs in Slurm's numbering: mapped back, exactly the CPUs they hold.
    back = dict((v, k) for k, v in cores.abstract_cpu.items())
    assert set(back[a] for a in parse_cpuset(fields.get("CpuSpecList", ""))) == held_cpus
    assert int(fields["RealMemory"]) == MEM - sum(t.memory for t in tenants) // (1 << 20) - reserve
    gres = fields.get("Gres")
    assert (gres is None) == (not offered)
    if gres:
        assert sum(int(part.rsplit(":", 1)[1]) for part in gres.split(",")) == len(offered)


def test_slurm_numbering_follows_cores_then_their_threads():
    """DGX-A100 (2 x 64 cores, SMT): CPU 0 and 128 are core 0's threads (abstract CPUs 0, 1); CPU 64 is core 64."""
    report = report_for(TOPOLOGIES["a100-nps1"], [Tenant("a", gpus=[0], cpus=[0, 128, 64])])
    cores = CoreMap(report["numa_nodes"])
    assert (cores.threads, cores.cores) == (2, 128)
    assert [cores.abstract_cpu[c] for c in (0, 128, 1, 64, 192)] == [0, 1, 2, 128, 129]
    out = slurm_config(report, "dgx01", 2, MEM)
    assert node_fields(out["node_line"])["CpuSpecList"] == "0-1,128"
    assert lines_of(out)[0] == {"Name": "gpu", "Type": "a100-sxm4-40gb", "File": "/dev/nvidia1", "Cores": "1-63"}
    assert out["held_gpus"] == [0] and out["gres_conf"].startswith(HEADER + "\n")


MINORS = mig_minors_text()


def test_free_mig_instances_are_lines_of_their_own_with_their_access_devices():
    report = report_for(a100_mig_topology(), [Tenant("m", gpus=["MIG-00000001-0000-0000-0000-000000000000"], cpus=[64])])
    out = slurm_config(report, "dgx01", 2, MEM, mig_minors=MINORS)
    mig = [line for line in lines_of(out) if "MultipleFiles" in line]
    assert [line["MultipleFiles"] for line in mig] == [
        "/dev/nvidia7,/dev/nvidia-caps/nvidia-cap%d,/dev/nvidia-caps/nvidia-cap%d" % (3 + 945 + 63, 4 + 945 + 63),
        "/dev/nvidia7,/dev/nvidia-caps/nvidia-cap%d,/dev/nvidia-caps/nvidia-cap%d" % (3 + 945 + 81, 4 + 945 + 81)]
    assert all(line["Type"] == "a100-sxm4-40gb_1g.10gb" for line in mig)
    assert "gpu:a100-sxm4-40gb_1g.10gb:2" in node_fields(out["node_line"])["Gres"]
    assert 7 not in out["held_gpus"]  # a GPU in MIG mode is offered by instance
    assert parse_mig_minors(MINORS)[(7, 9, 0)] == 4 + 945 + 81


def test_mig_without_its_minors_or_ids_is_refused_naming_what_is_missing():
    report = report_for(a100_mig_topology(), [])
    with pytest.raises(SlurmConfigError, match="mig_minors: no access minor for gpu7/gi7/access"):
        slurm_config(report, "dgx01", 2, MEM)
    for inst in report["gpus"][7]["mig_instances"]:
        inst["ci"] = None
    with pytest.raises(SlurmConfigError, match="compute instance IDs are unknown"):
        slurm_config(report, "dgx01", 2, MEM, mig_minors=MINORS)


def test_gpu_types_follow_the_model_or_the_admins_names():
    assert gpu_type("NVIDIA A100-SXM4-80GB", {}) == "a100-sxm4-80gb"
    assert gpu_type("NVIDIA H100 80GB HBM3", {}) == "h100_80gb_hbm3"
    assert gpu_type("NVIDIA H100 80GB HBM3", {"NVIDIA H100 80GB HBM3": "h100"}) == "h100"
    assert gpu_type(None, {}) == "gpu"


@st.composite
def bad_options(draw):
    """One option with a bad value, the others good: (option, value, kwargs)."""
    choice = draw(st.sampled_from(["node_name", "sockets", "memory_mb", "reserved_memory_mb", "dev_dir", "caps_dir", "type_names"]))
    bad = {
        "node_name": st.sampled_from(["", "two words", "-x", "a,b", "n=1", 3, None]),
        "sockets": st.one_of(st.integers(max_value=0), st.sampled_from([True, "2", 1.5, None])),
        "memory_mb": st.one_of(st.integers(max_value=0), st.sampled_from([False, "x", None])),
        "reserved_memory_mb": st.one_of(st.integers(max_value=-1), st.sampled_from([True, "x", None])),
        "dev_dir": st.sampled_from(["dev", "/my dev", "/a,b", "/a=b", "/a#b", "", 5]),
        "caps_dir": st.sampled_from(["caps", "/my caps", "/c,d", ""]),
        "type_names": st.one_of(st.sampled_from([["a100"], "a100"]),
                                st.dictionaries(st.text(min_size=1, max_size=5), st.sampled_from(["a 100", "a:1", "", "x,y", 3]),
                                                min_size=1, max_size=2)),
    }[choice]
    kwargs = {"node_name": "dgx01", "sockets": 2, "memory_mb": MEM, "reserved_memory_mb": 0, "dev_dir": "/dev",
              "caps_dir": "/dev/nvidia-caps", "type_names": {}}
    kwargs[choice] = draw(bad)
    return choice, kwargs


REPORT = report_for(TOPOLOGIES["a100-nps4"], [Tenant("a", gpus=[0], cpus=[0])])


@settings(max_examples=80, deadline=None)
@given(bad_options())
def test_bad_options_are_refused_naming_the_option(case):
    option, kwargs = case
    with pytest.raises(SlurmConfigError) as err:
        slurm_config(REPORT, **kwargs)
    assert str(err.value).startswith(option + " ") or str(err.value).startswith(option + "["), str(err.value)
    if not (isinstance(kwargs[option], str) and kwargs[option].isdigit()):  # the filter reads "2" from Jinja as 2
        with pytest.raises(AnsibleFilterError, match="^slurm_gres: " + option):
            slurm_gres(REPORT, **kwargs)


def test_a_layout_slurm_cannot_hold_is_refused():
    with pytest.raises(SlurmConfigError, match="sockets: 3 does not divide the host's 128 cores"):
        slurm_config(REPORT, "dgx01", 3, MEM)
    with pytest.raises(SlurmConfigError, match="no memory is left for Slurm"):
        slurm_config(REPORT, "dgx01", 2, 64 * 1024, 1)
    with pytest.raises(SlurmConfigError, match="allocation must be the allocation dict"):
        slurm_config([1], "dgx01", 2, MEM)
    assert slurm_gres(REPORT, "dgx01", "2", str(MEM))["node_line"] == slurm_config(REPORT, "dgx01", 2, MEM)["node_line"]
