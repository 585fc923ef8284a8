"""A corpus of bad tenant specs: each is rejected before anything changes, naming field and value."""

import os
import socket

import pytest

from localnet import free_port
from tenant_helpers import IMAGE_V1, PREFIX, data_dir, run_module

pytestmark = [pytest.mark.docker]

ED25519 = "AAAAC3NzaC1lZDI1NTE5AAAAIGcd1Z3D0a5o1vJ8xj6mWm4S7GkQn0XoYb2s7HqkQp2K"
BAD = [
    # (id, overrides, substrings the message must hold: the field and the value)
    ("memory-unit", {"memory": "12Q"}, ["memory", "12Q", "unknown unit"]),
    ("memory-negative", {"memory": "-1G"}, ["memory", "-1G", "negative"]),
    ("memory-word", {"memory": "lots"}, ["memory", "lots"]),
    ("memory-tiny", {"memory": "1M"}, ["memory", "1M", "minimum"]),
    ("memory-more-than-host", {"memory": "100T"}, ["memory", "100T", "free"]),
    ("memory-unit-x", {"memory": "1.5X"}, ["memory", "1.5X"]),
    ("disk-unit", {"disk": "10 gigs"}, ["disk", "10 gigs"]),
    ("disk-negative", {"disk": "-5G"}, ["disk", "-5G"]),
    ("disk-zero", {"disk": "0"}, ["disk", "'0'"]),
    ("disk-not-enforceable", {"disk": "1G"}, ["disk", "1G", "cannot be enforced"]),
    ("gpus-negative", {"gpus": -1}, ["gpus", "-1", "negative"]),
    ("cpus-negative", {"cpus": -2}, ["cpus", "-2", "negative"]),
    ("gpus-more-than-host", {"gpus": 3}, ["gpus", "3", "free"]),
    ("cpus-more-than-host", {"cpus": 4096}, ["cpus", "4096", "free"]),
    ("gpus-word", {"gpus": "two"}, ["gpus", "two"]),
    ("cpus-fraction", {"cpus": "1.5"}, ["cpus", "1.5"]),
    ("name-space", {"name": PREFIX + "bad name"}, ["name", "bad name"]),
    ("name-dash", {"name": "-" + PREFIX}, ["name", "-" + PREFIX]),
    ("name-long", {"name": PREFIX + "x" * 60}, ["name", "x" * 60]),
    ("name-taken", {"name": PREFIX + "taken"}, ["name", PREFIX + "taken", "taken"]),
    ("port-too-high", {"ssh_port": 70000}, ["ssh_port", "70000"]),
    ("port-zero", {"ssh_port": 0}, ["ssh_port", "0"]),
    ("port-bound-on-host", {"ssh_port": "LISTENING"}, ["ssh_port", "in use"]),
    ("port-published", {"ssh_port": "PUBLISHED"}, ["ssh_port", "already published"]),
    # Keys are named by position, never repeated back (a pasted private key would reach the logs).
    ("key-garbage", {"ssh_public_keys": ["not a key"]}, ["ssh_public_keys[0]", "unknown key type"]),
    ("key-not-base64", {"ssh_public_keys": ["ssh-ed25519 !!!notbase64"]}, ["ssh_public_keys[0]", "not base64"]),
    ("key-unknown-type", {"ssh_public_keys": ["ssh-dss " + ED25519]}, ["ssh_public_keys[0]", "ssh-dss"]),
    ("key-type-mismatch", {"ssh_public_keys": ["ssh-rsa " + ED25519]}, ["ssh_public_keys[0]", "does not match"]),
    ("key-none", {"ssh_public_keys": []}, ["ssh_public_keys"]),
    ("key-two-lines", {"ssh_public_keys": ["ssh-ed25519 %s a\nssh-ed25519 %s b" % (ED25519, ED25519)]},
     ["ssh_public_keys", "more than one line"]),
    ("key-options", {"ssh_public_keys": ['command="x" ssh-ed25519 ' + ED25519]}, ["ssh_public_keys", "command"]),
    ("bind-address", {"ssh_bind_address": "999.1.1.1"}, ["ssh_bind_address", "999.1.1.1"]),
    ("port-range-backwards", {"ssh_port_range": "3000-2000"}, ["ssh_port_range", "3000-2000"]),
    ("env-gpu-widening", {"env": {"NVIDIA_VISIBLE_DEVICES": "all"}}, ["env", "NVIDIA_VISIBLE_DEVICES"]),
    ("env-bad-name", {"env": {"1BAD": "x"}}, ["env", "1BAD"]),
    ("label-reserved", {"labels": {"gpulab.tenant": "other"}}, ["labels", "gpulab.tenant"]),
    ("image-missing", {"image": "gpulab-test-tenant/no-such-image:never"},
     ["image", "gpulab-test-tenant/no-such-image:never", "not on this host"]),
    ("image-space", {"image": "bad image"}, ["image", "bad image"]),
    ("data-base-relative", {"data_base": "relative/dir"}, ["data_base", "relative/dir"]),
    ("data-root-elsewhere", {"data_root": "/etc"}, ["data_root", "/etc"]),
    ("data-root-relative", {"data_root": "relative/dir"}, ["data_root", "relative/dir"]),
    ("data-root-dotdot", {"data_root": "/srv/../etc"}, ["data_root", "/srv/../etc"]),
    ("data-base-dotdot", {"data_base": "/srv/../etc"}, ["data_base", "/srv/../etc"]),
    ("numa-policy", {"numa_policy": "loose"}, ["numa_policy", "loose"]),
    ("pids-zero", {"pids_limit": 0}, ["pids_limit", "0"]),
    ("network-host", {"network": "host"}, ["network", "host"]),
    ("topology-malformed", {"topology": {"gpus": "x"}}, ["topology"]),
    ("memory-missing", {"memory": None}, ["memory"]),
    ("shm-more-than-memory", {"shm_size": "1G"}, ["shm_size", "1G", "more than memory 64M"]),
    ("shm-unit", {"shm_size": "16Q"}, ["shm_size", "16Q", "unknown unit"]),
    ("shm-zero", {"shm_size": "0"}, ["shm_size", "'0'"]),
    ("ulimit-unknown", {"ulimits": {"memory": 1}}, ["ulimits", "memory", "not a limit"]),
    ("ulimit-below-unlimited", {"ulimits": {"nofile": -2}}, ["ulimits.nofile", "-2"]),
    ("ulimit-soft-above-hard", {"ulimits": {"nofile": "4096:1024"}}, ["ulimits.nofile", "4096:1024", "hard"]),
    ("ulimit-word", {"ulimits": {"memlock": "unlimited"}}, ["ulimits.memlock", "unlimited"]),
]


@pytest.fixture(scope="module")
def taken(docker_client, tenant_images_built):
    """A container that is not a tenant, holding a name and publishing a port."""
    port = free_port()
    container = docker_client.containers.create(
        IMAGE_V1, name=PREFIX + "taken", command=["sleep", "infinity"], network_mode="none",
        labels={"gpulab.test": "not-a-tenant"}, ports={"22/tcp": ("127.0.0.1", port)})
    yield port
    container.remove(force=True)


def ours(client):
    """This suite's containers (other users of the shared daemon come and go meanwhile)."""
    return sorted(c.name for c in client.containers.list(all=True) if c.name.startswith(PREFIX))


def test_corpus_is_large_enough():
    assert len(BAD) >= 30 and len(set(b[0] for b in BAD)) == len(BAD)


@pytest.mark.parametrize("case,overrides,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_spec_rejected_before_anything_changes(docker_client, tenant_host, taken, case, overrides, expected):
    args = tenant_host("bad")
    args.update(overrides)
    if args["memory"] is None:
        del args["memory"]
    listener = None
    if overrides.get("ssh_port") == "LISTENING":
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        args["ssh_port"] = listener.getsockname()[1]
        expected = expected + [str(args["ssh_port"])]
    elif overrides.get("ssh_port") == "PUBLISHED":
        args["ssh_port"] = taken
        expected = expected + [str(taken)]
    names_before = ours(docker_client)
    try:
        result = run_module(args)
    finally:
        if listener is not None:
            listener.close()
    assert result.get("failed"), result
    for text in expected:
        assert text in result["msg"], (text, result["msg"])
    for key in overrides.get("ssh_public_keys") or []:
        for part in [p for p in key.split() if len(p) >= 16 and not p.endswith("openssh.com")]:
            assert part not in result["msg"] and part not in str(result.get("value")), result
    assert ours(docker_client) == names_before
    assert not os.path.exists(data_dir(tenant_host("bad")))
