"""Tenant lifecycle against the host's real dockerd: create, no-op, in-place update, re-creation,
removal, and check mode reporting the same `changed` while touching nothing."""

import os
import stat
import subprocess

import pytest

from tenant_helpers import IMAGE_V2, PREFIX, cpu_topology, data_dir, run_module, warnings_of

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def inspect(client, name):
    return client.api.inspect_container(name)


def exists(client, name):
    return any(c.name == name for c in client.containers.list(all=True))


def both(args, client, name):
    """Run in check mode (assert nothing moved), then for real; return (check, real) results."""
    before = inspect(client, name) if exists(client, name) else None
    check = run_module(args, check=True)
    after = inspect(client, name) if exists(client, name) else None
    assert before == after, "check mode changed the container"
    real = run_module(args)
    assert not check.get("failed") and not real.get("failed"), (check, real)
    assert check["changed"] == real["changed"]
    assert check["actions"] == real["actions"]
    return check, real


def test_lifecycle(docker_client, tenant_host):
    # shm_size given: the default /dev/shm follows memory, and a memory change would recreate the
    # container (test_tenant_ml_ready); given, memory is updated in place.
    args = tenant_host("life", shm_size="16M")
    name = PREFIX + "life"

    # create
    check, real = both(args, docker_client, name)
    assert real["changed"] and "create" in real["actions"]
    assert check["diff"]["before"] == {} and check["diff"]["after"]["memory"] == "64M"
    attrs = inspect(docker_client, name)
    host, config = attrs["HostConfig"], attrs["Config"]
    port = real["tenant"]["ssh_port"]
    cpuset = host["CpusetCpus"]
    assert cpuset == real["tenant"]["cpuset"] and len(cpuset.split(",")) == 1
    assert config["Labels"]["gpulab.cpuset"] == cpuset
    assert config["Labels"]["gpulab.tenant"] == name
    assert host["CpuQuota"] == 100000 and host["CpuPeriod"] == 100000
    assert host["Memory"] == 64 * 1024 * 1024 and host["MemorySwap"] == 64 * 1024 * 1024
    assert host["PidsLimit"] == 16384
    assert host["ShmSize"] == 16 * 1024 * 1024
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert host["PortBindings"]["22/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    assert "NVIDIA_VISIBLE_DEVICES=void" in config["Env"]
    assert not host.get("DeviceRequests")
    first_id = attrs["Id"]
    started = attrs["State"]["StartedAt"]
    data_file = os.path.join(data_dir(args), "keep.txt")
    with open(data_file, "w") as handle:
        handle.write("tenant data\n")

    # the same spec again: no change, container untouched
    check, real = both(args, docker_client, name)
    assert real["changed"] is False and real["actions"] == []
    attrs = inspect(docker_client, name)
    assert attrs["Id"] == first_id and attrs["State"]["StartedAt"] == started

    # memory: updated in place
    args["memory"] = "96M"
    check, real = both(args, docker_client, name)
    assert real["actions"] == ["update"]
    assert check["diff"]["before"]["memory"] == "64M" and check["diff"]["after"]["memory"] == "96M"
    attrs = inspect(docker_client, name)
    assert attrs["Id"] == first_id and attrs["State"]["StartedAt"] == started
    assert attrs["HostConfig"]["Memory"] == 96 * 1024 * 1024
    assert run_module(args)["changed"] is False

    # a limit changed by hand (docker update) is put back in place
    docker_client.containers.get(name).update(cpu_quota=50000)
    real = run_module(args)
    assert real["actions"] == ["update"]
    assert inspect(docker_client, name)["HostConfig"]["CpuQuota"] == 100000

    # image: recreated, same port, cores and data
    args["image"] = IMAGE_V2
    check, real = both(args, docker_client, name)
    assert real["actions"] == ["recreate"]
    attrs = inspect(docker_client, name)
    assert attrs["Id"] != first_id
    assert attrs["Config"]["Labels"]["gpulab.test-flavour"] == "v2"
    assert real["tenant"]["ssh_port"] == port
    assert attrs["HostConfig"]["CpusetCpus"] == cpuset
    out = docker_client.containers.get(name).exec_run(["cat", "/data/keep.txt"])
    assert out.exit_code == 0 and out.output == b"tenant data\n"
    assert not exists(docker_client, name + ".gpulab-replaced")
    assert run_module(args)["changed"] is False

    # a stopped tenant is started again
    docker_client.containers.get(name).stop(timeout=2)
    check, real = both(args, docker_client, name)
    assert real["actions"] == ["start"]
    assert docker_client.containers.get(name).status == "running"

    # remove, then remove again; the data directory stays
    absent = {"name": name, "state": "absent", "lock_path": args["lock_path"], "data_base": args["data_base"]}
    check, real = both(absent, docker_client, name)
    assert real["actions"] == ["remove"]
    assert not exists(docker_client, name)
    assert os.path.exists(data_file)
    check, real = both(absent, docker_client, name)
    assert real["changed"] is False

    # purge with an archive
    archive_dir = os.path.join(os.path.dirname(args["data_base"]), "archive")
    purge = dict(absent, purge=True, archive_to=archive_dir)
    check, real = both(purge, docker_client, name)
    assert real["actions"] == ["archive", "purge"]
    assert not os.path.exists(data_dir(args))
    archive = real["tenant"]["archive"]
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    listing = subprocess.run(["tar", "-tzf", archive], stdout=subprocess.PIPE, universal_newlines=True, check=True)
    assert "%s/keep.txt" % name in listing.stdout.split()
    assert run_module(purge)["changed"] is False


def test_cpu_count_change_replaces_cpuset_and_keeps_port(docker_client, tenant_host):
    if len(cpu_topology()["numa_nodes"]["0"]["cpus"]) < 2:
        pytest.skip("needs 2 CPUs")
    args = tenant_host("cpus")
    first = run_module(args)
    args["cpus"] = 2
    second = run_module(args)
    assert second["actions"] == ["recreate"], second
    host = inspect(docker_client, args["name"])["HostConfig"]
    assert len(host["CpusetCpus"].replace("-", ",").split(",")) == 2
    assert host["CpuQuota"] == 200000
    assert second["tenant"]["ssh_port"] == first["tenant"]["ssh_port"]


def test_disk_without_enforcement_support(docker_client, tenant_host):
    """Here Docker's data root is not xfs with pquota: disk fails clearly, unless told to go on."""
    args = tenant_host("disk", disk="1G")
    result = run_module(args)
    assert result.get("failed"), result
    assert "disk" in result["msg"] and "cannot be enforced" in result["msg"]
    assert "disk_enforcement: false" in result["msg"]
    assert not exists(docker_client, args["name"])
    args["disk_enforcement"] = False
    result = run_module(args)
    assert result["changed"] and not result.get("failed"), result
    assert any("not enforced" in w for w in warnings_of(result)), result
    labels = inspect(docker_client, args["name"])["Config"]["Labels"]
    assert labels["gpulab.disk"] == str(1024 ** 3) and labels["gpulab.disk-enforced"] == "false"
    assert not inspect(docker_client, args["name"])["HostConfig"].get("StorageOpt")
    assert run_module(args)["changed"] is False


def test_sshd_reachable_with_the_key(docker_client, tenant_host, ssh_key):
    args = tenant_host("ssh")
    result = run_module(args)
    port = result["tenant"]["ssh_port"]
    cmd = ["ssh", "-i", ssh_key["private"], "-p", str(port), "-o", "BatchMode=yes",
           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "ConnectTimeout=5", "root@127.0.0.1", "hostname"]
    container = docker_client.containers.get(args["name"])
    # Poll sshd's readiness in the container, not a fixed sleep.
    for _attempt in range(100):
        if container.exec_run(["sh", "-c", "ss -ltn | grep -q ':22 '"]).exit_code == 0:
            break
        container.reload()
        assert container.status == "running", container.logs()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=30,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == args["name"]
