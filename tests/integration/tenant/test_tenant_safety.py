"""Safe with data, against the host's real dockerd: every class of dangerous request is refused
before anything changes (or rolled back completely), with a message naming the option, never a
traceback and never a secret. See docs/tenant.md, "What the module refuses, and why"."""

import json
import os
import subprocess

import pytest

from tenant_helpers import IMAGE_V1, PREFIX, data_dir, gpu_topology, run_module

pytestmark = [pytest.mark.docker]


def tree(path):
    """Every path under `path` (symlinks not followed), with its type: a snapshot to compare."""
    found = set()
    for root, dirs, files in os.walk(str(path)):
        for name in dirs + files:
            full = os.path.join(root, name)
            found.add((full, os.path.islink(full), os.path.isdir(full)))
    return found


def ours(client):
    return sorted((c.name, c.id) for c in client.containers.list(all=True) if c.name.startswith(PREFIX))


def refused(result, field, *texts):
    assert result.get("failed"), result
    assert "Traceback" not in json.dumps(result) and "unexpected error" not in result["msg"], result
    assert result["msg"].startswith(field), (field, result["msg"])
    for text in texts:
        assert text in result["msg"], (text, result["msg"])
    return result


def absent(args, **over):
    spec = {"name": args["name"], "state": "absent", "data_base": args["data_base"], "lock_path": args["lock_path"]}
    spec.update(over)
    return spec


@pytest.fixture
def alice(docker_client, tenant_host):
    """A running tenant with a file in its data directory."""
    args = tenant_host("alice")
    result = run_module(args)
    assert result["changed"] and not result.get("failed"), result
    precious = os.path.join(data_dir(args), "thesis.tex")
    with open(precious, "w") as handle:
        handle.write("three years of work\n")
    return args, precious


def test_purge_never_reaches_another_tenants_data(docker_client, tenant_host, alice):
    alice_args, precious = alice
    # A forged record: a container that says it is tenant "mallory" and that alice's directory is its own.
    mallory = tenant_host("mallory")
    docker_client.containers.create(IMAGE_V1, name=mallory["name"], command=["sleep", "infinity"],
                                    network_mode="none", labels={"gpulab.tenant": mallory["name"],
                                                                 "gpulab.data-dir": data_dir(alice_args)})
    for check in (True, False):
        refused(run_module(absent(mallory, purge=True), check=check), "purge", data_dir(alice_args), "overlaps")
    assert open(precious).read() == "three years of work\n"
    # A symlink in place of a tenant's directory, pointing at alice's.
    os.symlink(data_dir(alice_args), data_dir(tenant_host("eve")))
    refused(run_module(absent(tenant_host("eve"), purge=True)), "data_base", "symlink")
    assert open(precious).read() == "three years of work\n"


@pytest.mark.parametrize("base", ["/etc", "/var/lib/docker", "/run", "/var/run", "/usr/local", "/root", "/home",
                                  "/", "/proc/self", "/boot/x", "/raid", "/tmp"])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_system_or_shared_base_refused_in_check_mode_and_for_real(docker_client, tenant_host, base, state):
    args = tenant_host("sys", data_base=base)
    spec = args if state == "present" else absent(args, purge=True)
    before = ours(docker_client)
    for check in (True, False):
        refused(run_module(spec, check=check), "data_base", base)
    assert ours(docker_client) == before


def test_archive_inside_the_data_is_refused(docker_client, tenant_host, alice):
    args, precious = alice
    for archive_to in (os.path.join(data_dir(args), "backup"), args["data_base"], "/etc/gpulab"):
        result = run_module(absent(args, purge=True, archive_to=archive_to), check=True)
        refused(result, "archive_to", archive_to)
        refused(run_module(absent(args, purge=True, archive_to=archive_to)), "archive_to")
    assert open(precious).read() == "three years of work\n"
    assert docker_client.containers.get(args["name"]).status == "running"


def test_symlinked_base_or_tenant_dir_refused(docker_client, tenant_host, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "linked").symlink_to(real)
    args = tenant_host("link", data_base=str(tmp_path / "linked"))
    refused(run_module(args), "data_base", "symlink")
    base = tmp_path / "tenants"
    base.mkdir()
    (base / (PREFIX + "etc")).symlink_to("/etc")
    args = tenant_host("etc")
    before = os.listdir("/etc")
    for spec in (args, absent(args, purge=True)):
        refused(run_module(spec), "data_base", "symlink")
    assert os.listdir("/etc") == before and not ours(docker_client)


def test_file_as_data_path_refused(docker_client, tenant_host, tmp_path):
    args = tenant_host("file")
    os.makedirs(args["data_base"])
    with open(data_dir(args), "w") as handle:
        handle.write("not a directory\n")
    refused(run_module(args), "data_base", data_dir(args), "not a directory")
    assert open(data_dir(args)).read() == "not a directory\n" and not ours(docker_client)


def test_overlap_with_a_non_tenant_bind_mount_refused(docker_client, tenant_host, tmp_path):
    args = tenant_host("overlap")
    shared = os.path.join(data_dir(args), "shared")
    os.makedirs(shared)
    foreign = docker_client.containers.create(IMAGE_V1, name=PREFIX + "foreign", command=["sleep", "infinity"],
                                              network_mode="none", volumes={shared: {"bind": "/x", "mode": "ro"}})
    try:
        refused(run_module(args), "data_base", "foreign")
    finally:
        foreign.remove(force=True)


def test_lock_path_that_is_a_directory(docker_client, tenant_host, tmp_path):
    args = tenant_host("lockdir", lock_path=str(tmp_path))
    refused(run_module(args), "lock_path", str(tmp_path))
    assert not os.path.exists(data_dir(args)) and not ours(docker_client)


def test_bind_address_this_host_lacks(docker_client, tenant_host):
    args = tenant_host("bind", ssh_bind_address="192.0.2.1")  # TEST-NET-1: on no interface here
    refused(run_module(args), "ssh_bind_address", "192.0.2.1")
    assert not os.path.exists(data_dir(args)) and not ours(docker_client)


@pytest.mark.parametrize("over,field", [
    ({"name": PREFIX + "nl\n"}, "name"),
    ({"env": {"NVIDIA_VISIBLE_DEVICES\n": "all"}}, "env"),
    ({"env": {"LANG": "C\nNVIDIA_VISIBLE_DEVICES=all"}}, "env.LANG"),
    ({"env": {"A": "x\x00y"}}, "env.A"),
    ({"labels": {"team\n": "x"}}, "labels"),
    ({"labels": {"team": "a\rb"}}, "labels.team"),
    ({"image": IMAGE_V1 + "\n"}, "image"),
    ({"network": "bridge\n"}, "network"),
    ({"ssh_port_range": "2200-2299\n"}, "ssh_port_range"),
    ({"data_mount": "/data\x00"}, "data_mount"),
    ({"data_mount": "/data:/etc"}, "data_mount"),
    ({"data_mount": "/proc/x"}, "data_mount"),
    ({"pids_limit": 2 ** 62}, "pids_limit"),
    ({"memory": "9000000000T"}, "memory"),
    ({"name": "x"}, "name"),
])
def test_control_characters_and_trailing_newlines_refused(docker_client, tenant_host, over, field):
    args = tenant_host("ctl")
    args.update(over)
    refused(run_module(args), field)
    assert not os.path.exists(args["data_base"]) and not ours(docker_client)


def test_key_comment_with_nul_and_pasted_private_key_never_echoed(docker_client, tenant_host, ssh_key, tmp_path):
    private = open(ssh_key["private"]).read()
    args = tenant_host("secret", ssh_public_keys=[ssh_key["public"], private])
    result = refused(run_module(args), "ssh_public_keys[1]", "private key")
    dumped = json.dumps(result)
    for line in private.splitlines():
        if len(line) > 8:
            assert line not in dumped
    args = tenant_host("nul", ssh_public_keys=[ssh_key["public"] + "\x00secret-comment"])
    result = refused(run_module(args), "ssh_public_keys[0]", "control characters")
    assert "secret-comment" not in json.dumps(result)


def test_docker_refusal_leaves_nothing_behind(docker_client, tenant_host, tmp_path):
    """The host dockerd has no nvidia hook: Docker refuses the GPU request at start. The data
    directory, its parents, the container and the lock file this run made are all gone again."""
    lock_dir = tmp_path / "run" / "lock"
    args = tenant_host("refused", gpus=1, topology=gpu_topology(2), lock_path=str(lock_dir / "t.lock"))
    before = tree(tmp_path)
    result = refused(run_module(args), "gpus", "could not select device driver", "undone")
    assert any("removed container" in u for u in result["undone"]), result
    assert any(data_dir(args) in u for u in result["undone"]), result
    assert tree(tmp_path) == before and not (tmp_path / "run").exists()
    assert not ours(docker_client)


def test_failed_recreation_puts_the_tenant_back(docker_client, tenant_host, tmp_path):
    args = tenant_host("back", topology=gpu_topology(2))
    assert not run_module(args).get("failed")
    container = docker_client.containers.get(args["name"])
    with open(os.path.join(data_dir(args), "keep"), "w") as handle:
        handle.write("data\n")
    result = refused(run_module(dict(args, gpus=1)), "gpus", "could not select device driver")
    assert any("put the previous container back" in u for u in result["undone"]), result
    container.reload()
    assert container.name == args["name"] and container.status == "running"
    assert open(os.path.join(data_dir(args), "keep")).read() == "data\n"
    assert sorted(n for n, _id in ours(docker_client)) == [args["name"]]
    assert run_module(args)["changed"] is False


def test_finishing_an_interrupted_recreation_is_a_change(docker_client, tenant_host):
    args = tenant_host("parked")
    assert not run_module(args).get("failed")
    container = docker_client.containers.get(args["name"])
    # Interrupted after parking the old container and before creating the new one.
    container.stop(timeout=2)
    container.rename(args["name"] + ".gpulab-replaced")
    check = run_module(args, check=True)
    real = run_module(args)
    assert check["actions"] == real["actions"] and real["actions"][0] == "restore-parked" and real["changed"]
    assert docker_client.containers.get(args["name"]).id == container.id
    # Interrupted after the new one started and before the old one was removed.
    attrs = docker_client.api.inspect_container(args["name"])
    docker_client.containers.create(IMAGE_V1, name=args["name"] + ".gpulab-replaced", command=["sleep", "1"],
                                    network_mode="none", labels=attrs["Config"]["Labels"])
    real = run_module(args)
    assert real["changed"] and real["actions"] == ["remove-parked"], real
    assert sorted(n for n, _id in ours(docker_client)) == [args["name"]]


def test_check_mode_creates_no_lock_file(docker_client, tenant_host, tmp_path):
    args = tenant_host("check", lock_path=str(tmp_path / "new" / "t.lock"))
    result = run_module(args, check=True)
    assert result["changed"] and not result.get("failed"), result
    assert not (tmp_path / "new").exists() and not os.path.exists(args["data_base"])


def test_purge_removes_a_tree_with_symlinks_without_following_them(docker_client, tenant_host, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("not the tenant's\n")
    args = tenant_host("links")
    assert not run_module(args).get("failed")
    inner = os.path.join(data_dir(args), "sub")
    os.makedirs(inner)
    os.symlink(str(outside), os.path.join(inner, "to-outside"))
    os.symlink(str(outside / "keep"), os.path.join(data_dir(args), "file-link"))
    archive_to = tmp_path / "archive"
    result = run_module(absent(args, purge=True, archive_to=str(archive_to)))
    assert result["actions"] == ["remove", "archive", "purge"], result
    assert not os.path.lexists(data_dir(args))
    assert (outside / "keep").read_text() == "not the tenant's\n"
    listing = subprocess.run(["tar", "-tvzf", result["tenant"]["archive"]], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
    assert "to-outside -> %s" % outside in listing


@pytest.mark.parametrize("state", ["present", "absent"])
def test_data_root_is_only_ever_the_tenants_own_directory(docker_client, tenant_host, alice, state):
    """data_root stays accepted for older inventories, as exactly <data_base>/<name> and nothing else."""
    alice_args, precious = alice
    args = tenant_host("root")
    for elsewhere in ("/etc", data_dir(alice_args), args["data_base"]):
        spec = dict(args, data_root=elsewhere) if state == "present" else absent(args, purge=True, data_root=elsewhere)
        for check in (True, False):
            refused(run_module(spec, check=check), "data_root", elsewhere)
    assert open(precious).read() == "three years of work\n"
    own = dict(args, data_root=data_dir(args))
    if state == "present":
        result = run_module(own)
        assert not result.get("failed") and result["tenant"]["data_dir"] == data_dir(args), result
    else:
        assert not run_module(absent(args, purge=True, data_root=data_dir(args))).get("failed")
