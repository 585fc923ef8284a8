# -*- coding: utf-8 -*-
"""gpu_info and tenant read the host's GPUs through NVML, else nvidia-smi run by the module's
run_command, and fail naming the causes when neither can read GPUs that are there.

No GPU here: `nvidia-smi` is a TEST DOUBLE shell script put first on PATH (it prints the real
DGX-A100 `nvidia-smi topo -m` sample, or the real "couldn't communicate" failure), pynvml is made
missing, and the host's sysfs, /dev and /proc are fake trees under tmp_path. For the tenant
module, Docker and tenant_apply.ensure_present are TEST DOUBLES too (see below).
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import functools
import os
import stat
import struct

import docker
import pytest

from ansible_collections.gpulab.dgx.plugins.module_utils.topology import host as topology_host
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc import allocate
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.apply import Outcome
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant import run as tenant_run
from ansible_collections.gpulab.dgx.plugins.modules import gpu_info, tenant

from .test_host_gpu_readers import (
    A100_GPU_NODES, DRIVER_NOT_LOADED, a100_query_gpu, a100_smi_list, a100_topo_m, no_pynvml, trees, two_socket, write)

__all__ = ["no_pynvml"]  # a fixture used below


def nvidia_smi_double(tmp_path, monkeypatch, query, topo, rc=0, listing=""):
    """Put a TEST DOUBLE nvidia-smi first on PATH: --query-gpu=... prints `query`, topo -m prints
    `topo`, -L prints `listing`, all exit `rc`."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "query.txt").write_text(query)
    (bindir / "topo.txt").write_text(topo)
    (bindir / "list.txt").write_text(listing)
    script = bindir / "nvidia-smi"
    script.write_text(
        '#!/bin/sh\n'
        '# TEST DOUBLE of nvidia-smi for unit tests: prints stored outputs.\n'
        'case "$1" in\n'
        '  --query-gpu=*) cat "%s"; exit %d ;;\n'
        '  topo) cat "%s"; exit %d ;;\n'
        '  -L) cat "%s"; exit %d ;;\n'
        '  *) echo "TEST DOUBLE: unexpected arguments: $*"; exit 2 ;;\n'
        'esac\n' % (bindir / "query.txt", rc, bindir / "topo.txt", rc, bindir / "list.txt", rc))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", "%s%s%s" % (bindir, os.pathsep, os.environ.get("PATH", "")))


def host_trees(tmp_path, monkeypatch, module, gpu_device=True):
    """Make `module` read the fake host trees (a DGX-A100's sysfs; /dev/nvidia0 when gpu_device)."""
    sysfs, dev, proc = trees(tmp_path)
    if gpu_device:
        write(dev, "nvidia0", "")
    monkeypatch.setattr(module, "read_host_topology", functools.partial(
        topology_host.read_host_topology, sysfs_root=sysfs, dev_root=dev, proc_root=proc))


def test_gpu_info_without_pynvml_reads_nvidia_smi(tmp_path, monkeypatch, no_pynvml, run_module):
    host_trees(tmp_path, monkeypatch, gpu_info)
    nvidia_smi_double(tmp_path, monkeypatch, a100_query_gpu(), a100_topo_m(), listing=a100_smi_list())
    out = run_module(gpu_info, {})
    assert not out["failed"], out.get("msg")
    assert out["topology"]["source"] == "nvidia-smi"
    assert [g["numa_node"] for g in out["topology"]["gpus"]] == A100_GPU_NODES
    assert out["topology"]["links"]["0,7"] == "NV12"


def test_gpu_info_gpus_nobody_can_read_fail_with_the_causes(tmp_path, monkeypatch, no_pynvml, run_module):
    host_trees(tmp_path, monkeypatch, gpu_info)
    nvidia_smi_double(tmp_path, monkeypatch, DRIVER_NOT_LOADED, DRIVER_NOT_LOADED, rc=9)
    out = run_module(gpu_info, {})
    assert out["failed"]
    assert "pynvml is not installed" in out["msg"]
    assert "couldn't communicate with the NVIDIA driver" in out["msg"]


def test_gpu_info_without_driver_says_so(tmp_path, monkeypatch, no_pynvml, run_module):
    host_trees(tmp_path, monkeypatch, gpu_info, gpu_device=False)
    nvidia_smi_double(tmp_path, monkeypatch, DRIVER_NOT_LOADED, DRIVER_NOT_LOADED, rc=9)
    out = run_module(gpu_info, {})
    assert out["failed"] and out["msg"].startswith("no NVIDIA driver")


class DockerClientTestDouble(object):
    """TEST DOUBLE of docker.DockerClient: nothing is asked of it but close()."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def close(self):
        pass


def ensure_present_test_double(client, spec, topology_source, run, check_mode, lock, ledger=None):
    """TEST DOUBLE of tenant_apply.ensure_present: reads the topology and allocates as the real one
    does (tenant_alloc.allocate, no other tenants), without Docker."""
    alloc = allocate(spec, None, [], topology_source())
    outcome = Outcome()
    outcome.tenant = {"name": spec.name, "gpu_indices": alloc.gpu_indices, "gpus": alloc.gpu_ids,
                      "cpuset": alloc.cpuset}
    return outcome


@pytest.fixture
def tenant_without_docker(monkeypatch):
    # The module runs tenants through module_utils/tenant/run.py: the doubles go there.
    monkeypatch.setattr(docker, "DockerClient", DockerClientTestDouble)
    monkeypatch.setattr(tenant_run, "ensure_present", ensure_present_test_double)


def key():
    """An ed25519 public key line (a made-up 32-byte key)."""
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + b"\x01" * 32
    return "ssh-ed25519 %s me@host" % base64.b64encode(blob).decode()


TENANT = {"name": "alice", "image": "img:1", "gpus": 2, "cpus": 8, "memory": "8G",
          "ssh_public_keys": [key()], "data_base": "/srv/gpulab-tenants"}


def test_tenant_places_on_gpus_read_through_nvidia_smi(tmp_path, monkeypatch, no_pynvml, tenant_without_docker,
                                                       run_module):
    host_trees(tmp_path, monkeypatch, tenant)
    nvidia_smi_double(tmp_path, monkeypatch, a100_query_gpu(), a100_topo_m(), listing=a100_smi_list())
    out = run_module(tenant, TENANT, check=True)
    assert not out["failed"], out.get("msg")
    assert len(out["tenant"]["gpus"]) == 2 and all(g.startswith("GPU-1d2c3b4a-") for g in out["tenant"]["gpus"])


def test_tenant_gpus_nobody_can_read_fail_as_topology(tmp_path, monkeypatch, no_pynvml, tenant_without_docker,
                                                      run_module):
    host_trees(tmp_path, monkeypatch, tenant)
    nvidia_smi_double(tmp_path, monkeypatch, DRIVER_NOT_LOADED, DRIVER_NOT_LOADED, rc=9)
    out = run_module(tenant, TENANT, check=True)
    assert out["failed"]
    assert out["msg"].startswith("topology:")
    assert "pynvml is not installed" in out["msg"]
    assert "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver" in out["msg"]
    assert "0 free" not in out["msg"]


def test_tenant_nvidia_sysfs_without_readers_is_not_0_gpus(tmp_path, monkeypatch, no_pynvml, tenant_without_docker,
                                                           run_module):
    # The host, through sysfs only (the reader's one root the old code took too): before,
    # this failed with "gpus: 2 is more than the 0 free of the host's 0 GPUs".
    root = two_socket(tmp_path)
    write(root, "bus/pci/devices/0000:07:00.0/vendor", "0x10de\n")
    write(root, "bus/pci/devices/0000:07:00.0/class", "0x030200\n")
    monkeypatch.setattr(tenant, "read_host_topology", functools.partial(
        topology_host.read_host_topology, sysfs_root=root))
    nvidia_smi_double(tmp_path, monkeypatch, DRIVER_NOT_LOADED, DRIVER_NOT_LOADED, rc=9)
    out = run_module(tenant, TENANT, check=True)
    assert out["failed"]
    assert out["msg"].startswith("topology:") and "0000:07:00.0" in out["msg"]


def test_tenant_on_a_cpu_only_host_gets_its_cpus(tmp_path, monkeypatch, no_pynvml, tenant_without_docker, run_module):
    host_trees(tmp_path, monkeypatch, tenant, gpu_device=False)
    nvidia_smi_double(tmp_path, monkeypatch, DRIVER_NOT_LOADED, DRIVER_NOT_LOADED, rc=9)
    out = run_module(tenant, dict(TENANT, gpus=0), check=True)
    assert not out["failed"], out.get("msg")
    assert out["tenant"]["gpus"] == [] and out["tenant"]["cpuset"]


def test_tenant_gets_a_mig_instance_read_through_nvidia_smi(tmp_path, monkeypatch, no_pynvml, tenant_without_docker,
                                                            run_module):
    host_trees(tmp_path, monkeypatch, tenant)
    nvidia_smi_double(tmp_path, monkeypatch, a100_query_gpu(), a100_topo_m(), listing=a100_smi_list())
    out = run_module(tenant, dict(TENANT, gpus=0, mig={"profile": "3g.20gb"}), check=True)
    assert not out["failed"], out.get("msg")
    assert out["tenant"]["gpus"] == ["MIG-4a4a0000-3c3c-5d5d-8e8e-000000000001"] and out["tenant"]["gpu_indices"] == [4]


def test_a_partitioned_gpu_is_never_handed_out_whole(tmp_path, monkeypatch, no_pynvml, tenant_without_docker, run_module):
    host_trees(tmp_path, monkeypatch, tenant)
    nvidia_smi_double(tmp_path, monkeypatch, a100_query_gpu(), a100_topo_m(), listing=a100_smi_list())
    out = run_module(tenant, dict(TENANT, gpus=8), check=True)
    assert out["failed"]
    assert out["msg"].startswith("gpus: 8 is more than the 7 free of the host's 8 GPUs (1 in MIG mode")
    out = run_module(tenant, dict(TENANT, gpus=0, mig={"profile": "1g.5gb", "count": 1}), check=True)
    assert out["failed"] and out["msg"].startswith("mig: '1g.5gb x1' cannot be placed")
    assert "free instances: 3g.20gb x2" in out["msg"]
