"""Eight rollouts started at once, as separate processes, never share a GPU, a core or a port.

The host lock serialises read-ledger / place / create; the ledger is read back from Docker.
"""


import pytest

from tenant_helpers import HOST_CPUS, HOST_ULIMITS, PREFIX, cpu_topology, gpu_topology, module_process, process_result

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def run_all(arg_list):
    procs = [module_process(args) for args in arg_list]  # all started before any is waited on
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert out.strip(), err
        results.append(process_result(out))
    return results


def test_eight_gpu_tenants_at_once(gpu_host, ssh_key, tmp_path):
    """Against the GPU test dockerd (hook TEST DOUBLE): 8 x 1 GPU on an 8-GPU topology, cpus 0."""
    import docker
    client = docker.DockerClient(base_url=gpu_host.host, version="auto")
    topology = gpu_topology(8)
    names = [PREFIX + "gpu-par-%d" % i for i in range(8)]
    arg_list = [{
        "name": name, "image": "gpulab-test-tenant/sshd:v1", "gpus": 1, "cpus": 0, "memory": "32M",
        "ssh_public_keys": [ssh_key["public"]], "ssh_bind_address": "127.0.0.1", "network": "gpulab-test-tenant-net",
        "data_base": str(tmp_path / "tenants"), "lock_path": str(tmp_path / "lock"), "topology": topology,
        "docker_host": gpu_host.host,
        "ulimits": HOST_ULIMITS,  # the GPU test dockerd runs here too: memlock within its own limit
    } for name in names]
    try:
        results = run_all(arg_list)
        assert all(r.get("changed") and not r.get("failed") for r in results), results
        gpus, ports = [], []
        for name in names:
            host = client.api.inspect_container(name)["HostConfig"]
            ids = [i for req in host["DeviceRequests"] for i in req["DeviceIDs"]]
            assert len(ids) == 1
            gpus += ids
            ports.append(host["PortBindings"]["22/tcp"][0]["HostPort"])
            assert not host["CpusetCpus"]
        assert sorted(gpus) == sorted(g["uuid"] for g in topology["gpus"])
        assert len(set(ports)) == 8
        # A ninth finds no GPU left, and says so.
        ninth = run_all([dict(arg_list[0], name=PREFIX + "gpu-par-9")])[0]
        assert ninth.get("failed") and "gpus" in ninth["msg"] and "0 free" in ninth["msg"], ninth
    finally:
        for name in names:
            remove_quietly(client, name)
        client.close()


def remove_quietly(client, name):
    try:
        client.containers.get(name).remove(force=True)
    except Exception:  # already gone
        pass


def test_eight_cpu_tenants_compete_for_the_cores(docker_client, tenant_host):
    """Against the host's dockerd: 8 x 1 dedicated CPU on this machine's real CPUs. Exactly as many
    succeed as there are CPUs; the rest fail naming cpus; no core and no port is shared."""
    arg_list = [tenant_host("cpu-par-%d" % i, cpus=1, topology=cpu_topology()) for i in range(8)]
    results = run_all(arg_list)
    ok = [a["name"] for a, r in zip(arg_list, results) if not r.get("failed")]
    failed = [r for r in results if r.get("failed")]
    assert len(ok) == min(8, len(HOST_CPUS)), results
    for result in failed:
        assert result["msg"].startswith("cpus: 1 is more than the 0 free"), result["msg"]
    cores, ports = [], []
    for container in docker_client.containers.list(all=True, filters={"label": "gpulab.tenant"}):
        if container.name.startswith(PREFIX + "cpu-par-"):
            host = container.attrs["HostConfig"]
            cores.append(host["CpusetCpus"])
            ports.append(host["PortBindings"]["22/tcp"][0]["HostPort"])
    assert len(cores) == len(ok)
    assert len(set(cores)) == len(cores) and all(c.isdigit() for c in cores)
    assert len(set(ports)) == len(ports)
