"""ML-ready tenant containers against the host's real dockerd: /dev/shm sized from memory (or as
given), the stack and locked-memory limits as placed, seen from inside the container; a new
shm_size or ulimits recreates the container; memlock -1 on a dockerd that cannot lift it."""

import pytest

from tenant_helpers import HOST_ULIMITS, PREFIX, run_module

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MiB = 1024 * 1024


def inside(client, name):
    """/dev/shm in bytes, `ulimit -l` and `ulimit -s`, read in the container as the verify probe does."""
    out = client.containers.get(name).exec_run(
        ["sh", "-c", "df -P -B1 /dev/shm | awk 'NR==2 {print $2}'; ulimit -l; ulimit -s"])
    assert out.exit_code == 0, out.output
    shm, memlock, stack = out.output.decode().split()
    return int(shm), memlock, stack


def host_config(client, name):
    return client.api.inspect_container(name)["HostConfig"]


def run_both(args):
    """Check mode, then for real: both report the same actions."""
    check = run_module(args, check=True)
    real = run_module(args)
    assert not check.get("failed") and not real.get("failed"), (check, real)
    assert check["actions"] == real["actions"]
    return real


def test_shm_and_rlimits_as_placed_and_a_change_recreates(docker_client, tenant_host):
    args = tenant_host("ml")
    name = args["name"]

    # Default: /dev/shm is half of 64M; stack 64 MiB; memlock as given for this host.
    result = run_both(args)
    tenant = result["tenant"]
    assert tenant["shm_size"] == "32M" and tenant["shm_size_bytes"] == 32 * MiB
    assert tenant["ulimits"] == {"memlock": {"soft": 8388608, "hard": 8388608},
                                 "stack": {"soft": 67108864, "hard": 67108864}}
    host = host_config(docker_client, name)
    assert host["ShmSize"] == 32 * MiB
    assert sorted((u["Name"], u["Soft"], u["Hard"]) for u in host["Ulimits"]) == [
        ("memlock", 8388608, 8388608), ("stack", 67108864, 67108864)]
    assert inside(docker_client, name) == (32 * MiB, "8192", "65536")
    first_id = tenant["container_id"]
    assert run_module(args)["changed"] is False

    # A new shm_size recreates the container; the data directory and port stay.
    args["shm_size"] = "16M"
    result = run_both(args)
    assert result["actions"] == ["recreate"]
    assert result["diff"]["before"]["shm_size"] == "32M" and result["diff"]["after"]["shm_size"] == "16M"
    assert result["tenant"]["ssh_port"] == tenant["ssh_port"]
    assert result["tenant"]["container_id"] != first_id
    assert inside(docker_client, name)[0] == 16 * MiB
    assert run_module(args)["changed"] is False

    # With shm_size given, a memory change stays in place.
    args["memory"] = "96M"
    result = run_both(args)
    assert result["actions"] == ["update"]
    assert inside(docker_client, name)[0] == 16 * MiB

    # With the default, /dev/shm follows memory: a memory change recreates.
    del args["shm_size"]
    assert run_both(args)["actions"] == ["recreate"]
    assert inside(docker_client, name)[0] == 48 * MiB
    args["memory"] = "128M"
    result = run_both(args)
    assert result["actions"] == ["recreate"] and result["tenant"]["shm_size"] == "64M"
    assert inside(docker_client, name)[0] == 64 * MiB

    # New ulimits recreate too: those given replace the defaults they name, the others stay.
    args["ulimits"] = dict(HOST_ULIMITS, stack="8388608:16777216", nofile=4096)
    result = run_both(args)
    assert result["actions"] == ["recreate"]
    assert result["tenant"]["ulimits"]["stack"] == {"soft": 8388608, "hard": 16777216}
    assert inside(docker_client, name)[1:] == ("8192", "8192")
    out = docker_client.containers.get(name).exec_run(["sh", "-c", "ulimit -n; ulimit -Hs"])
    assert out.output.decode().split() == ["4096", "16384"]
    assert run_module(args)["changed"] is False


def test_shm_size_above_memory_refused_before_anything_changes(docker_client, tenant_host):
    args = tenant_host("ml-big", shm_size="65M")
    result = run_module(args)
    assert result.get("failed") and result["field"] == "shm_size", result
    assert result["msg"].startswith("shm_size: '65M' is more than memory 64M"), result["msg"]
    assert not [c for c in docker_client.containers.list(all=True) if c.name == args["name"]]


def test_unlimited_memlock_works_or_is_refused_naming_ulimits(docker_client, tenant_host, tmp_path):
    """memlock -1 (the module's default): a dockerd with CAP_SYS_RESOURCE (a DGX's) gives it; this
    host's cannot raise its own 8 MiB hard limit, and Docker refuses at start. Then the failure
    names ulimits and says why, and the run leaves nothing behind."""
    lock_dir = tmp_path / "new-lock-dir"
    args = tenant_host("ml-memlock", ulimits=None, lock_path=str(lock_dir / "t.lock"))
    result = run_module(args)
    ours = [c for c in docker_client.containers.list(all=True) if c.name.startswith(PREFIX + "ml-memlock")]
    if not result.get("failed"):
        assert result["tenant"]["ulimits"]["memlock"] == {"soft": -1, "hard": -1}
        assert inside(docker_client, args["name"])[1] == "unlimited"
        return
    assert result["field"] == "ulimits", result
    assert "rlimit" in result["msg"] and "CAP_SYS_RESOURCE" in result["msg"], result["msg"]
    assert "undone" in result["msg"] and "NOT undone" not in result["msg"], result["msg"]
    assert not ours
    assert not (tmp_path / "tenants" / args["name"]).exists()
    assert not lock_dir.exists()
