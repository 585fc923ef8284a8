"""Debian's slurmd (`slurmd -G`, tests/helpers/slurmd_check.py) reads the gres.conf and NodeName line the
slurm_gres filter writes for real topology samples, with hwloc given each sample's CPU layout: every GPU and MIG
instance no tenant holds, on the cores the filter chose, with no error logged; a GPU a tenant holds is absent.
And the check is one that can fail: a Cores= beyond the layout is logged."""

import pytest

from ansible_collections.gpulab.dgx.plugins.plugin_utils.slurm.gres import slurm_config
from report_helpers import GIB, Tenant, a100_mig_topology, a100_topology, mig_minors_text, report_for, sixteen_gpu_topology
from slurmd_check import CAPS_MAJOR, make_devices, parse, require_slurmd

SYNTHETIC = {"a100": "pack:2 core:64 pu:2", "h100x16": "pack:2 core:48 pu:2"}


@pytest.fixture(scope="module", autouse=True)
def slurmd_installed():
    require_slurmd()


@pytest.fixture
def devices(tmp_path):
    make_devices(tmp_path / "dev", [("nvidia%d" % i, i) for i in range(16)])
    return tmp_path / "dev"


@pytest.mark.parametrize("name, topo, tenants", [
    ("a100", a100_topology(), [Tenant("alice", gpus=[0, 1], cpus=list(range(48, 56)) + list(range(176, 184))),
                               Tenant("bob", gpus=[6], cpus=[112, 113, 240], memory=8 * GIB)]),
    ("a100", a100_topology(), []),
    ("h100x16", sixteen_gpu_topology(), [Tenant("carol", gpus=list(range(8)), cpus=list(range(0, 48)) + list(range(96, 144)))]),
])
def test_slurmd_reads_every_free_gpu_on_the_cores_given_and_logs_no_error(tmp_path, devices, name, topo, tenants):
    out = slurm_config(report_for(topo, tenants), "dgx01", 2, 2048 * 1024, 4096, dev_dir=str(devices))
    found, errors, lines = parse(out["gres_conf"], out["node_line"], "dgx01", tmp_path / "check", SYNTHETIC[name])
    assert errors == [], lines
    held = set(g for t in tenants for g in t.gpus)
    free = [g["index"] for g in topo["gpus"] if g["index"] not in held]
    assert [int(files[0].rsplit("nvidia", 1)[1]) for _t, files, _c in found] == free, lines
    given = [dict(p.split("=", 1) for p in line.split())["Cores"] for line in out["gres_conf"].splitlines()[1:]]
    assert [cores for _t, _f, cores in found] == given


def test_free_mig_instances_are_read_with_their_access_devices(tmp_path, devices):
    tenants = [Tenant("m", gpus=["MIG-00000001-0000-0000-0000-000000000000"], cpus=[64])]
    out = slurm_config(report_for(a100_mig_topology(), tenants), "dgx01", 2, 2048 * 1024, dev_dir=str(devices),
                       caps_dir=str(tmp_path / "caps"), mig_minors=mig_minors_text())
    files = [f for line in out["gres_conf"].splitlines()[1:] for f in line.split("MultipleFiles=")[-1].split()[0].split(",")]
    caps = sorted(set(int(f.rsplit("nvidia-cap", 1)[1]) for f in files if "nvidia-cap" in f))
    make_devices(tmp_path / "caps", [("nvidia-cap%d" % m, m) for m in caps], CAPS_MAJOR)
    found, errors, lines = parse(out["gres_conf"], out["node_line"], "dgx01", tmp_path / "check", SYNTHETIC["a100"])
    assert errors == [], lines
    mig = [(kind, files) for kind, files, _c in found if kind.endswith("_1g.10gb")]
    assert len(mig) == 2 and all(len(files) == 3 and files[0].endswith("/nvidia7") for _k, files in mig), lines


def test_the_check_sees_cores_beyond_the_layout(tmp_path, devices):
    """Negative control: what slurmd only logs (exit 0) is found in its output."""
    out = slurm_config(report_for(a100_topology(), []), "dgx01", 2, 2048 * 1024, dev_dir=str(devices))
    _found, errors, lines = parse(out["gres_conf"], out["node_line"], "dgx01", tmp_path / "small", "pack:1 core:32 pu:2")
    assert any("Cores=" in e for e in errors), lines  # the A100's cores 32-127 do not exist on a 32-core host
