"""The tenant modules' check from inside the containers (verify), against the real dockerd: what a
container holds is read through Docker's exec API and compared with its placement; a container that
differs fails its tenant and is kept; only the tenants asked for are read; nothing in check mode.
Runs through the single and the batch module (GPULAB_TENANT_PATH)."""
import io

import pytest

from tenant_helpers import IMAGE_V1, remove_test_containers, run_module

NO_SSHD_IMAGE = IMAGE_V1.rsplit(":", 1)[0] + ":no-sshd"


@pytest.fixture(autouse=True)
def no_test_tenants_before(docker_client):
    remove_test_containers(docker_client)


@pytest.fixture(scope="module")
def no_sshd_image(docker_client, tenant_images_built):
    """The test tenant image whose default command is not sshd: its container never listens on 22."""
    dockerfile = 'FROM %s\nCMD ["sleep", "infinity"]\n' % IMAGE_V1
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=NO_SSHD_IMAGE, rm=True)
    return NO_SSHD_IMAGE


def test_verify_reads_what_was_placed_and_only_what_is_asked(docker_client, tenant_host):
    args = tenant_host("v1", memory="96M", verify="changed")
    first = run_module(args)
    assert not first.get("failed"), first
    seen = first["verified"]
    assert seen["sshd_listening"] == "yes" and seen["nvidia_visible_devices"] == "void", seen
    assert seen["cpuset"] == first["tenant"]["cpuset"] and int(seen["memory_limit"]) == 96 * 1024 * 1024, seen
    assert int(seen["cpu_quota"]) == first["tenant"]["cpu_quota"], seen
    again = run_module(args)
    assert again["changed"] is False and "verified" not in again, again
    every = run_module(dict(args, verify="all"))
    assert every["changed"] is False and every["verified"]["sshd_listening"] == "yes", every
    assert "verified" not in run_module(dict(args, verify="none"))


def test_what_a_login_sees_is_read_and_a_difference_fails(docker_client, tenant_host):
    args = tenant_host("v2", verify="all")
    assert not run_module(args).get("failed")
    container = docker_client.containers.get(args["name"])
    # What an SSH login would see, changed behind the module's back.
    container.exec_run(["sh", "-c", "echo \"export NVIDIA_VISIBLE_DEVICES='0,1'\" > /etc/profile.d/gpulab-env.sh"])
    result = run_module(args)
    assert result["failed"] is True and result["changed"] is False, result
    assert "NVIDIA_VISIBLE_DEVICES: wanted void, found 0,1" in result["msg"], result
    assert docker_client.containers.get(args["name"]).status == "running"  # kept, to be looked at


def test_a_container_whose_sshd_never_listens_fails_after_the_timeout(docker_client, tenant_host, no_sshd_image):
    args = tenant_host("v3", image=no_sshd_image, verify="changed", verify_timeout=1)
    result = run_module(args)
    assert result["failed"] is True and result["changed"] is True, result
    assert "sshd listening on port 22: wanted yes, found no" in result["msg"], result
    assert result["verified"]["sshd_listening"] == "no"
    assert docker_client.containers.get(args["name"]).status == "running"


def test_check_mode_reads_nothing_and_bad_options_change_nothing(docker_client, tenant_host):
    args = tenant_host("v4", verify="all")
    planned = run_module(args, check=True)
    assert not planned.get("failed") and "verified" not in planned, planned
    for option, value in (("verify_parallel", 0), ("verify_timeout", -1), ("verify_parallel", 65)):
        bad = run_module(dict(args, **{option: value}))
        assert bad["failed"] is True and bad["msg"].startswith("%s: %r" % (option, value)), bad
    assert not [c for c in docker_client.containers.list(all=True) if c.name == args["name"]]
