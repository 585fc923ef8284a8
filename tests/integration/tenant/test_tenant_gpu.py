"""GPU requests through a real dockerd whose PATH holds a TEST DOUBLE of
nvidia-container-runtime-hook (tests/integration/gpu_dockerd.py): no GPU is involved; Docker's
GPU path runs end to end up to the hook."""

import time

import pytest

from tenant_helpers import IMAGE_V1, IMAGE_V2, PREFIX, gpu_topology, run_module

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def first_process_env(gpu_host, container):
    """The environment the container's first process started with, from the OCI config the hook
    TEST DOUBLE saved at `prestart` (/proc/1/environ is no witness: sshd overwrites it)."""
    configs = [config for args, state, config in gpu_host.hook_calls()
               if args == "prestart" and state.get("id") == container.id]
    assert len(configs) == 1, gpu_host.hook_calls()
    return dict(item.split("=", 1) for item in configs[0]["process"]["env"])


def login_env(container):
    """What an SSH login sees: the entrypoint's /etc/profile.d/gpulab-env.sh."""
    out = container.exec_run(["sh", "-c", ". /etc/profile.d/gpulab-env.sh && env"])
    assert out.exit_code == 0, out.output
    return dict(line.split("=", 1) for line in out.output.decode().splitlines() if "=" in line)


def wait_for_login_env(container):
    """Poll until the entrypoint has written the login environment (it does so before sshd)."""
    deadline = time.monotonic() + 180  # a bound for a failure, not a pace: each try is a docker exec
    while time.monotonic() < deadline:
        if container.exec_run(["grep", "-q", "NVIDIA_VISIBLE_DEVICES", "/etc/profile.d/gpulab-env.sh"]).exit_code == 0:
            return
        container.reload()
        assert container.status == "running", container.logs()
    raise AssertionError("no /etc/profile.d/gpulab-env.sh in %s" % container.name)


@pytest.fixture
def gpu_client(gpu_host):
    import docker
    client = docker.DockerClient(base_url=gpu_host.host, version="auto")
    yield client
    for container in client.containers.list(all=True, filters={"label": "gpulab.tenant"}):
        if container.name.startswith(PREFIX):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass  # gone between the listing and the removal: what cleaning up wants
    client.close()


def test_gpu_tenant_sees_its_placed_gpus(gpu_host, gpu_client, tenant_host):
    topology = gpu_topology(8)
    calls_before = len(gpu_host.hook_calls())
    args = tenant_host("gpu", gpus=2, cpus=1, topology=topology, docker_host=gpu_host.host)
    result = run_module(args)
    assert result["changed"] and not result.get("failed"), result
    uuids = result["tenant"]["gpus"]
    assert len(uuids) == 2 and all(u.startswith("GPU-") for u in uuids)
    assert [topology["gpus"][i]["uuid"] for i in result["tenant"]["gpu_indices"]] == uuids

    container = gpu_client.containers.get(args["name"])
    host = container.attrs["HostConfig"]
    assert host["DeviceRequests"] == [{"Driver": "nvidia", "Count": 0, "DeviceIDs": uuids,
                                       "Capabilities": [["gpu"]], "Options": {}}]
    assert container.labels["gpulab.gpus"] == ",".join(uuids)
    assert first_process_env(gpu_host, container)["NVIDIA_VISIBLE_DEVICES"] == ",".join(uuids)
    calls = gpu_host.hook_calls()[calls_before:]
    assert [state.get("id") for args_, state, _config in calls if args_ == "prestart"] == [container.id]

    assert run_module(args)["changed"] is False

    # A new image: recreated on the same GPUs.
    args["image"] = IMAGE_V2
    result = run_module(args)
    assert result["actions"] == ["recreate"]
    assert result["tenant"]["gpus"] == uuids
    container = gpu_client.containers.get(args["name"])
    assert first_process_env(gpu_host, container)["NVIDIA_VISIBLE_DEVICES"] == ",".join(uuids)
    wait_for_login_env(container)
    assert login_env(container)["NVIDIA_VISIBLE_DEVICES"] == ",".join(uuids)

    # Fewer GPUs: it keeps one of those it had.
    args["gpus"] = 1
    result = run_module(args)
    assert result["actions"] == ["recreate"] and result["tenant"]["gpus"][0] in uuids


def test_indices_when_the_topology_has_no_uuids(gpu_host, gpu_client, tenant_host):
    topology = gpu_topology(4)
    for gpu in topology["gpus"]:
        gpu["uuid"] = None
    args = tenant_host("gpu-idx", gpus=2, cpus=0, topology=topology, docker_host=gpu_host.host)
    result = run_module(args)
    assert result["tenant"]["gpus"] == ["0", "1"], result
    container = gpu_client.containers.get(args["name"])
    assert first_process_env(gpu_host, container)["NVIDIA_VISIBLE_DEVICES"] == "0,1"


def test_gpu_less_tenant_sees_no_gpu(gpu_host, gpu_client, tenant_host):
    args = tenant_host("gpu-none", gpus=0, cpus=1, topology=gpu_topology(8), docker_host=gpu_host.host)
    run_module(args)
    container = gpu_client.containers.get(args["name"])
    assert "NVIDIA_VISIBLE_DEVICES=void" in container.attrs["Config"]["Env"]
    wait_for_login_env(container)
    assert login_env(container)["NVIDIA_VISIBLE_DEVICES"] == "void"
    assert not container.attrs["HostConfig"].get("DeviceRequests")


def test_without_the_hook_the_start_fails_clearly(docker_client, tenant_host):
    """The host's dockerd has no nvidia hook on its PATH: the module says so and leaves nothing."""
    args = tenant_host("gpu-nohook", gpus=1, cpus=0, topology=gpu_topology(1), image=IMAGE_V1)
    result = run_module(args)
    assert result.get("failed"), result
    assert 'could not select device driver "nvidia"' in result["msg"]
    assert "nvidia-container-runtime-hook" in result["msg"]
    assert not [c for c in docker_client.containers.list(all=True) if c.name == args["name"]]


def mig_topology():
    """gpu_topology(4) with GPUs 0 and 1 in MIG mode: GPU 0 split into two 3g.40gb, GPU 1 into seven 1g.10gb."""
    topology = gpu_topology(4)
    for index, profiles in ((0, ["3g.40gb"] * 2), (1, ["1g.10gb"] * 7)):
        topology["gpus"][index]["mig_mode"] = "Enabled"
        topology["gpus"][index]["mig_instances"] = [
            {"profile": p, "gi": slot + 1, "ci": 0, "uuid": "MIG-%08d-0000-5000-8000-%012d" % (index, slot), "memory_mib": 9856}
            for slot, p in enumerate(profiles)]
    return topology


def test_mig_tenants_get_their_own_instances_by_uuid(gpu_host, gpu_client, tenant_host):
    topology = mig_topology()
    first = tenant_host("mig-a", gpus=0, cpus=1, mig={"profile": "1g.10gb", "count": 2}, topology=topology,
                        docker_host=gpu_host.host, verify="changed")
    result = run_module(first)
    assert result["changed"] and not result.get("failed"), result
    mine = result["tenant"]["gpus"]
    assert mine == ["MIG-00000001-0000-5000-8000-000000000000", "MIG-00000001-0000-5000-8000-000000000001"]
    assert result["tenant"]["gpu_indices"] == [1]
    container = gpu_client.containers.get(first["name"])
    assert container.attrs["HostConfig"]["DeviceRequests"][0]["DeviceIDs"] == mine
    assert container.labels["gpulab.gpus"] == ",".join(mine)
    assert first_process_env(gpu_host, container)["NVIDIA_VISIBLE_DEVICES"] == ",".join(mine)
    assert run_module(first)["changed"] is False

    second = tenant_host("mig-b", gpus=0, cpus=1, mig={"profile": "1g.10gb"}, topology=topology, docker_host=gpu_host.host)
    theirs = run_module(second)["tenant"]["gpus"]
    assert theirs == ["MIG-00000001-0000-5000-8000-000000000002"]  # the partly used GPU, never a held instance
    whole = tenant_host("mig-whole", gpus=2, cpus=0, topology=topology, docker_host=gpu_host.host)
    assert run_module(whole)["tenant"]["gpu_indices"] == [2, 3]  # GPUs in MIG mode are not handed out whole

    first["state"] = "absent"
    assert run_module(first)["changed"]
    third = tenant_host("mig-c", gpus=0, cpus=1, mig={"profile": "1g.10gb", "count": 2}, topology=topology,
                        docker_host=gpu_host.host)
    assert run_module(third)["tenant"]["gpus"] == mine  # freed by the removal


def test_a_mig_request_that_does_not_fit_changes_nothing(gpu_host, gpu_client, tenant_host):
    args = tenant_host("mig-big", gpus=0, cpus=1, mig={"profile": "3g.40gb", "count": 3}, topology=mig_topology(),
                       docker_host=gpu_host.host)
    result = run_module(args)
    assert result.get("failed") and result["msg"].startswith("mig: '3g.40gb x3' cannot be placed"), result
    assert "2 free" in result["msg"]
    assert not gpu_client.containers.list(all=True, filters={"name": args["name"]})


def test_sharers_hold_one_gpu_together_and_a_dedicated_tenant_never_gets_it(gpu_host, gpu_client, tenant_host):
    topology = gpu_topology(2)
    one = tenant_host("share-a", gpus=0, cpus=0, gpu_share={"gpus": 1}, topology=topology, docker_host=gpu_host.host)
    first = run_module(one)
    assert first["changed"] and not first.get("failed"), first
    two = tenant_host("share-b", gpus=0, cpus=0, gpu_share={"gpus": 1, "mode": "time-slice"}, topology=topology,
                      docker_host=gpu_host.host)
    second = run_module(two)
    assert second["tenant"]["gpus"] == first["tenant"]["gpus"]  # the shared GPU is filled first
    for args in (one, two):
        container = gpu_client.containers.get(args["name"])
        assert container.labels["gpulab.gpu-share"] == "time-slice"
        assert first_process_env(gpu_host, container)["NVIDIA_VISIBLE_DEVICES"] == first["tenant"]["gpus"][0]
    assert run_module(one)["changed"] is False

    dedicated = tenant_host("share-ded", gpus=1, cpus=0, topology=topology, docker_host=gpu_host.host)
    got = run_module(dedicated)["tenant"]["gpus"]
    assert got != first["tenant"]["gpus"] and len(got) == 1
    refused = run_module(tenant_host("share-ded2", gpus=1, cpus=0, topology=topology, docker_host=gpu_host.host))
    assert refused.get("failed") and refused["msg"].startswith("gpus: 1 is more than the 0 free"), refused
    # And the dedicated tenant's GPU is not shared either.
    third = run_module(tenant_host("share-c", gpus=0, cpus=0, gpu_share={"gpus": 1}, topology=topology, docker_host=gpu_host.host))
    assert third["tenant"]["gpus"] == first["tenant"]["gpus"]
