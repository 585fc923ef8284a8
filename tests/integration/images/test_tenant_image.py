# -*- coding: utf-8 -*-
"""The tenant_image role and image_prune module against the real dockerd.

Builds run from a run-private base made from the local Debian image (no pulls, no network in
the build: tenant_image_build_network is "none"), so the test also shows that a base that
already has openssh-server needs no apt at all. Everything created here carries the run id.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import io
import re
import socket
import subprocess
import time

import pytest

from images_support import build_base, docker
from localnet import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]


# --- preflight: matrix resolution and refusals (no build) ---------------------------------

def test_default_bases_follow_nvidia_cuda_tag_naming(playbook, tmp_path):
    result = playbook({
        "role_tasks": "preflight",
        "tenant_image_matrix": [
            {"os": "22.04", "cuda": "12.4.1", "cudnn": 9},
            {"os": "ubuntu20.04", "cuda": "11.8.0", "cudnn": 8, "flavour": "runtime"},
            {"os": "22.04", "cuda": "12.3.2", "cudnn": 9},
            {"os": "24.04", "cuda": "12.6.3", "cudnn": None, "flavour": "base"},
            {"os": "debian12", "cuda": "12.4.1", "cudnn": 9, "base_image": "local/base:1", "name": "custom"},
        ],
    })
    assert result.rc == 0, result.stdout
    got = [(r["base"], r["ref"]) for r in result.out["resolved"]]
    assert got == [
        ("nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04", "gpulab/tenant:ubuntu22.04-cuda12.4.1-cudnn9-devel"),
        ("nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu20.04", "gpulab/tenant:ubuntu20.04-cuda11.8.0-cudnn8-runtime"),
        ("nvidia/cuda:12.3.2-cudnn9-devel-ubuntu22.04", "gpulab/tenant:ubuntu22.04-cuda12.3.2-cudnn9-devel"),
        ("nvidia/cuda:12.6.3-base-ubuntu24.04", "gpulab/tenant:ubuntu24.04-cuda12.6.3-base"),
        ("local/base:1", "gpulab/tenant:custom"),
    ]


@pytest.mark.parametrize("entries, messages", [
    # Field checks: every bad entry is reported, each naming its field and value.
    ([{"os": "jammy", "cuda": "12.4.1", "cudnn": 9},
      {"os": "22.04", "cuda": "12.4.1", "apt_packages": ["vim; curl evil"]}],
     ["tenant_image_matrix[0] is invalid: os=jammy is not a release",
      'tenant_image_matrix[1] is invalid: apt_packages has invalid name(s) ["vim; curl evil"]']),
    # Entries that name no nvidia/cuda tag.
    ([{"os": "22.04", "cuda": "12.4.1", "cudnn": 8},
      {"os": "22.04", "cuda": "12.2.2", "cudnn": 8, "flavour": "base"}],
     ["tenant_image_matrix[0] has no nvidia/cuda base tag: cudnn=8 with cuda=12.4.1",
      "tenant_image_matrix[1] has no nvidia/cuda base tag: flavour=base with cudnn=8"]),
    # Unknown fields (a typo) are refused by the role's argument spec.
    ([{"os": "22.04", "cuda": "12.4.1", "cudann": 9}], ["cudann"]),
], ids=["fields", "no-such-tag", "unknown-field"])
def test_bad_entries_fail_before_anything_changes(playbook, tmp_path, entries, messages):
    build_dir = tmp_path / "build"
    result = playbook({"tenant_image_matrix": entries, "tenant_image_build_dir": str(build_dir)})
    assert result.rc != 0
    for message in messages:
        assert message in result.stdout
    assert not build_dir.exists()


# --- build, SSH, secrets, rebuild, prune -------------------------------------------------

@pytest.fixture(scope="module")
def setup(client, run_id, playbook, tmp_path_factory, cleanup):
    base_ref = "%s/base:1" % run_id
    build_base(client, base_ref, 1, run_id)
    repo = "%s/tenant" % run_id
    variables = {
        "tenant_image_repository": repo,
        "tenant_image_build_dir": str(tmp_path_factory.mktemp("build")),
        "tenant_image_pull_base": False,
        "tenant_image_build_network": "none",
        "tenant_image_labels": {"gpulab.test-run": run_id},
        "tenant_image_matrix": [
            {"os": "debian12", "cuda": "12.4.1", "cudnn": 9, "flavour": "runtime",
             "base_image": base_ref, "name": "root"},
            # Derived from the first image: prune must remove it first.
            {"os": "debian12", "cuda": "12.4.1", "cudnn": 9, "base_image": repo + ":root",
             "name": "user", "user": "alice", "uid": 1500},
        ],
    }
    started = time.monotonic()
    first = playbook(variables)
    assert first.rc == 0, first.stdout
    return {"vars": variables, "first": first, "repo": repo, "base_ref": base_ref,
            "build_s": time.monotonic() - started}


def image_id(client, ref):
    return client.images.get(ref).id


def test_images_are_built_and_labelled_from_the_matrix(client, setup):
    assert setup["first"].changed > 0
    root = client.images.get(setup["repo"] + ":root")
    user = client.images.get(setup["repo"] + ":user")
    assert root.labels["gpulab.tenant-image"] == "true"
    assert (root.labels["gpulab.os"], root.labels["gpulab.cuda"], root.labels["gpulab.cudnn"]) == ("debian12", "12.4.1", "9")
    assert root.labels["gpulab.flavour"] == "runtime"
    assert root.labels["gpulab.login-user"] == "root"
    assert user.labels["gpulab.login-user"] == "alice"
    assert root.labels["gpulab.base-id"] == image_id(client, setup["base_ref"])
    assert user.labels["gpulab.base-id"] == root.id
    assert re.match(r"^[0-9a-f]{64}$", root.labels["gpulab.build-hash"])
    assert root.attrs["Config"]["Entrypoint"] == ["/usr/local/sbin/gpulab-entrypoint"]
    assert "22/tcp" in root.attrs["Config"]["ExposedPorts"]


def test_second_build_is_a_no_op(client, setup, playbook):
    before = {t: image_id(client, setup["repo"] + ":" + t) for t in ("root", "user")}
    again = playbook(setup["vars"])
    assert again.rc == 0, again.stdout
    assert again.changed == 0, again.stdout
    assert {t: image_id(client, setup["repo"] + ":" + t) for t in ("root", "user")} == before


SECRET_PATTERNS = re.compile(
    r"PRIVATE KEY|ssh-(rsa|ed25519|dss)|ecdsa-sha2|passw(or)?d\s*=|chpasswd|PASSWORD|SECRET|TOKEN|"
    r"GPULAB_SSH_AUTHORIZED_KEYS=", re.IGNORECASE)
FS_PROBE = (
    "set -u; "
    "for f in /etc/ssh/ssh_host_*; do [ -e \"$f\" ] && echo \"host key: $f\"; done; "
    "find / -xdev -name authorized_keys 2>/dev/null | sed 's/^/authorized_keys: /'; "
    "awk -F: '$2 ~ /^\\$/ {print \"password hash: \" $1}' /etc/shadow; "
    "true"
)


def secrets_in_image(client, ref):
    """Findings: secret-looking text in the history or config, build args, host keys,
    authorized_keys files or password hashes in the file system."""
    findings = []
    image = client.images.get(ref)
    for layer in client.api.history(image.id):
        created_by = layer.get("CreatedBy") or ""
        if SECRET_PATTERNS.search(created_by):
            findings.append("history: " + created_by)
        if re.match(r"^\|\d+ ", created_by):
            findings.append("build argument in history: " + created_by)
    config = image.attrs["Config"]
    for text in (config.get("Env") or []) + list((config.get("Labels") or {}).values()) \
            + (config.get("Cmd") or []) + (config.get("Entrypoint") or []):
        if SECRET_PATTERNS.search(text):
            findings.append("config: " + text)
    out = client.containers.run(image.id, ["sh", "-c", FS_PROBE], entrypoint=[], remove=True,
                                network_mode="none", labels={"gpulab.test-run": image.labels.get("gpulab.test-run", "")})
    findings.extend(line for line in out.decode().splitlines() if line.strip())
    return findings


def test_no_secret_in_history_config_or_layers(client, setup):
    for tag in ("root", "user"):
        assert secrets_in_image(client, setup["repo"] + ":" + tag) == []


def test_secret_probe_catches_a_password_baked_the_old_way(client, run_id, setup):
    """Control for the test above: the hand-made Dockerfile this role replaces (password in a
    build argument, chpasswd) must be caught."""
    ref = "%s/old-way:1" % run_id
    dockerfile = ("FROM %s\nLABEL gpulab.test-run=%s\nARG ROOT_PASSWORD\n"
                  "RUN echo \"root:$ROOT_PASSWORD\" | chpasswd\n") % (setup["base_ref"], run_id)
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=ref, rm=True, network_mode="none",
                        buildargs={"ROOT_PASSWORD": "hunter2"})
    findings = secrets_in_image(client, ref)
    assert any("ROOT_PASSWORD=hunter2" in f for f in findings)
    assert "password hash: root" in findings


def wait_for_sshd(container, port):
    """Follow the container log until sshd says it listens (the stream ends if the container
    exits), then read the SSH banner through the published port."""
    seen = b""
    for chunk in container.logs(stream=True, follow=True):
        seen += chunk
        if b"Server listening on" in seen:
            break
    else:
        raise AssertionError("container ended before sshd listened: " + seen.decode())
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.settimeout(120)
        banner = sock.recv(64)
    assert banner.startswith(b"SSH-2.0-"), banner


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory):
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gpulab-test", "-f", str(key)], check=True)
    return key


def ssh(key, port, user, *args):
    cmd = ["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-p", str(port)]
    cmd += list(args) + ["%s@127.0.0.1" % user]
    return cmd


@pytest.fixture(scope="module")
def network(client, run_id, setup):
    # A run-private bridge: does not depend on docker0.
    net = client.networks.create(run_id, driver="bridge", labels={"gpulab.test-run": run_id})
    yield net


@pytest.mark.parametrize("tag, login", [("root", "root"), ("user", "alice")])
def test_key_login_works_and_password_is_refused(client, run_id, setup, network, ssh_key, tag, login):
    port = free_port()
    pub = (str(ssh_key) + ".pub")
    with open(pub) as handle:
        keys = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherTenantKeyIsAlsoAcceptedButNotOurs0000 other\n" + handle.read()
    container = client.containers.run(
        setup["repo"] + ":" + tag, detach=True, name="%s-ssh-%s" % (run_id, tag), network=network.name,
        ports={"22/tcp": ("127.0.0.1", port)}, environment={"GPULAB_SSH_AUTHORIZED_KEYS": keys},
        labels={"gpulab.test-run": run_id})
    try:
        wait_for_sshd(container, port)
        ok = subprocess.run(ssh(ssh_key, port, login, "-i", str(ssh_key), "-o", "BatchMode=yes") + ["id -un"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60, check=False)
        assert ok.returncode == 0, ok.stdout
        assert ok.stdout.strip() == login

        refused = subprocess.run(
            ssh(ssh_key, port, login, "-o", "PreferredAuthentications=password,keyboard-interactive",
                "-o", "PubkeyAuthentication=no", "-o", "BatchMode=yes", "-o", "NumberOfPasswordPrompts=1") + ["true"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60, check=False)
        assert refused.returncode == 255
        assert "Permission denied (publickey)" in refused.stdout

        settings = container.exec_run(["/usr/sbin/sshd", "-T"]).output.decode()
        assert "passwordauthentication no" in settings.splitlines()
        assert "permitrootlogin without-password" in settings.splitlines()

        home = "/root" if login == "root" else "/home/" + login
        stat = container.exec_run(["stat", "-c", "%a %U", home + "/.ssh/authorized_keys"]).output.decode().strip()
        assert stat == "600 " + login
        check = container.exec_run(["/usr/local/bin/gpulab-check", "--no-gpu"])
        assert check.exit_code == 0, check.output.decode()
    finally:
        container.remove(force=True)


def test_gpulab_check_fails_without_a_gpu(client, setup):
    container = client.containers.run(setup["repo"] + ":root", ["/usr/local/bin/gpulab-check"], entrypoint=[],
                                      detach=True, network_mode="none")
    try:
        assert container.wait(timeout=60)["StatusCode"] == 1
        assert "FAIL: nvidia-smi not found" in container.logs().decode()
    finally:
        container.remove(force=True)


def test_changed_base_rebuilds_image_and_its_derived_image(client, run_id, setup, playbook):
    old = {t: image_id(client, setup["repo"] + ":" + t) for t in ("root", "user")}
    new_base = build_base(client, setup["base_ref"], 2, run_id)
    rebuilt = playbook(setup["vars"])
    assert rebuilt.rc == 0, rebuilt.stdout
    root = client.images.get(setup["repo"] + ":root")
    user = client.images.get(setup["repo"] + ":user")
    assert root.id != old["root"] and user.id != old["user"]
    assert root.labels["gpulab.base-id"] == new_base.id
    assert user.labels["gpulab.base-id"] == root.id
    setup["old"] = old


def prune_args(run_id):
    return {"run_role": False, "prune_args": {"labels": {"gpulab.test-run": run_id}}}


def exists(client, image):
    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def test_prune_spares_images_in_use_and_removes_children_first(client, run_id, setup, playbook):
    assert "old" in setup, "needs the rebuild test before it"
    user_ref, root_ref = setup["repo"] + ":user", setup["repo"] + ":root"
    stopped = client.containers.create(user_ref, name=run_id + "-tenant", labels={"gpulab.test-run": run_id})

    plan = playbook(dict(prune_args(run_id), prune_check=True))
    assert plan.rc == 0, plan.stdout
    kept = {k["name"]: k["reason"] for k in plan.out["prune"]["kept_in_use"]}
    assert kept[user_ref] == "used by container %s-tenant" % run_id
    assert kept[root_ref] == "base of %s, used by container %s-tenant" % (user_ref, run_id)
    assert plan.out["prune"]["removed"], "the old builds should be planned for removal"
    assert all(exists(client, r["id"]) for r in plan.out["prune"]["removed"])  # check mode removed nothing

    pruned = playbook(prune_args(run_id))
    assert pruned.rc == 0, pruned.stdout
    assert pruned.out["prune"]["changed"] is True
    assert exists(client, user_ref) and exists(client, root_ref)
    assert not exists(client, setup["old"]["user"]) and not exists(client, setup["old"]["root"])

    stopped.remove()
    last = playbook(prune_args(run_id))
    assert last.rc == 0, last.stdout
    assert [r["name"] for r in last.out["prune"]["removed"]] == [user_ref, root_ref]
    assert not exists(client, user_ref) and not exists(client, root_ref)
    assert exists(client, setup["base_ref"])  # not a tenant image: never touched
