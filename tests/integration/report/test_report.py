"""gpulab.dgx.allocation_info and playbooks/report.yml against real parts: two tenant containers made
by the tenant module on the GPU test dockerd (NVIDIA hook TEST DOUBLE, synthetic 8-GPU topology over
this machine's real CPUs), read back by the module run as Ansible runs it, and the playbook run with
ansible-playbook on localhost, writing the picture, table, JSON and index on the controller."""

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tenant_helpers import HOST_CPUS, PREFIX, ROOT, gpu_topology, run_module

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def gpu_tenants(gpu_host, tenant_host):
    """Two GPU tenants on the GPU test dockerd; removed afterwards (and any left by an earlier run first)."""
    import docker
    client = docker.DockerClient(base_url=gpu_host.host, version="auto")

    def clean():
        for container in client.containers.list(all=True, filters={"label": "gpulab.tenant"}):
            if container.name.startswith(PREFIX):
                container.remove(force=True)

    clean()
    topology = gpu_topology(8)
    made = []
    for name, gpus in (("map-a", 2), ("map-b", 1)):
        args = tenant_host(name, gpus=gpus, cpus=1, memory="64M", topology=topology, docker_host=gpu_host.host)
        result = run_module(args)
        assert result.get("changed") and not result.get("failed"), result
        made.append(result["tenant"])
    try:
        yield topology, made
    finally:
        clean()
        client.close()


def run_info(args, directory, check=False):
    """gpulab.dgx.allocation_info in a process of its own, as Ansible runs a module (its arguments in a
    file: a topology is too long for one command-line argument); its JSON result."""
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    args_file = directory / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check)}))
    done = subprocess.run([sys.executable, "-m", "ansible_collections.gpulab.dgx.plugins.modules.allocation_info", str(args_file)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, universal_newlines=True, check=False)
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise AssertionError("no JSON from the module (rc %d): %s %s" % (done.returncode, done.stdout, done.stderr))


def test_the_module_reads_the_tenants_back(gpu_host, gpu_tenants, tmp_path):
    topology, made = gpu_tenants
    for check in (False, True):
        result = run_info({"topology": topology, "docker_host": gpu_host.host, "nvml": "never"}, tmp_path, check=check)
        assert result.get("failed") is not True and result["changed"] is False, result
        alloc = result["allocation"]
        mine = dict((t["name"], t) for t in alloc["tenants"] if t["name"].startswith(PREFIX))
        assert sorted(mine) == sorted(t["name"] for t in made)
        for tenant in made:
            shown = mine[tenant["name"]]
            assert [g["index"] for g in shown["gpus"]] == tenant["gpu_indices"]
            assert [g["uuid"] for g in shown["gpus"]] == tenant["gpus"]
            assert shown["cpuset"] == tenant["cpuset"] and shown["ssh_port"] == tenant["ssh_port"]
            assert shown["memory_limit"] == "64M" and shown["running"] is True
            assert shown["cpu_numa_nodes"] == [0] == shown["gpu_numa_nodes"]
            for index in tenant["gpu_indices"]:
                assert alloc["gpus"][index]["tenant"] == tenant["name"]
        held = set(i for t in made for i in t["gpu_indices"])
        assert alloc["free"]["gpus"] == [i for i in range(8) if i not in held]
        assert alloc["host"]["gpus"] == {"total": 8, "held": 3, "free": 5}
        assert alloc["host"]["cpus"]["total"] == len(HOST_CPUS)
        assert not [w for w in alloc["warnings"] if w["tenant"] in mine]


def test_the_playbook_writes_every_file(gpu_host, gpu_tenants, tmp_path):
    topology, made = gpu_tenants
    out = tmp_path / "report"
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"gpulab_hosts": "localhost", "gpulab_report_dir": str(out), "tenant_topology": topology,
                                 "tenant_docker_host": gpu_host.host, "ansible_python_interpreter": sys.executable}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"))
    done = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", "@%s" % extra,
                           os.path.join(ROOT, "playbooks", "report.yml")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, universal_newlines=True, check=False)
    assert done.returncode == 0, done.stdout
    assert sorted(os.listdir(str(out))) == ["index.html", "localhost.json", "localhost.svg", "localhost.txt"]
    data = json.loads((out / "localhost.json").read_text())
    assert set(t["name"] for t in made) <= set(t["name"] for t in data["tenants"])
    svg = (out / "localhost.svg").read_text()
    root = ET.fromstring(svg.encode("utf-8"))
    legend = [el.get("data-tenant") for el in root.iter() if (el.get("id") or "").startswith("legend-") and el.get("id") != "legend-free"]
    assert set(t["name"] for t in made) <= set(legend)
    xmllint = shutil.which("xmllint")
    if xmllint is None:
        pytest.fail("xmllint is missing: install Debian's libxml2-utils (scripts/setup-system.sh)")
    subprocess.run([xmllint, "--noout", str(out / "localhost.svg")], check=True)
    table = (out / "localhost.txt").read_text()
    for tenant in made:
        row = [line for line in table.splitlines() if line.startswith(tenant["name"])]
        assert len(row) == 1 and tenant["cpuset"] in row[0] and str(tenant["ssh_port"]) in row[0], table
    index = (out / "index.html").read_text()
    assert 'src="localhost.svg"' in index and "localhost.txt" in index
