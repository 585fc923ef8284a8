"""playbooks/tenant.yml and playbooks/tenant_remove.yml end to end on this host's dockerd: a
two-tenant inventory, verification inside the containers, handoff notes, a no-op re-run."""

import os
import re
import stat
import subprocess
import sys

import pytest
import yaml

from tenant_helpers import HOST_ULIMITS, IMAGE_V1, NETWORK, PREFIX, ROOT, cpu_topology

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def playbook(name, inventory, *extra):
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               ANSIBLE_ROLES_PATH=os.path.join(ROOT, "roles"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
           os.path.join(ROOT, "playbooks", name), "-i", str(inventory)] + list(extra)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=env, timeout=300, check=False)


def recap(output):
    match = re.search(r"gpuhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                      r"\s+skipped=(\d+)", output)
    assert match, output
    return dict(zip(("ok", "changed", "unreachable", "failed", "skipped"), map(int, match.groups())))


@pytest.fixture
def inventory(tmp_path, ssh_key, tenant_images_built, tenant_network):
    tenants = [
        {"name": PREFIX + "alice", "image": IMAGE_V1, "gpus": 0, "cpus": 1, "memory": "96M", "disk": "2G",
         "ssh_public_keys": [ssh_key["public"]]},
        {"name": PREFIX + "bob", "image": IMAGE_V1, "cpus": 1, "memory": "64M",
         "ssh_public_keys": [ssh_key["public"]]},
    ]
    data = {"all": {
        "hosts": {"gpuhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                              "ansible_become": False}},
        "vars": {
            "gpulab_tenants": tenants,
            "tenant_topology": cpu_topology(),
            "tenant_network": NETWORK,
            "tenant_ssh_bind_address": "127.0.0.1",
            "tenant_data_base": str(tmp_path / "tenants"),
            "tenant_lock_path": str(tmp_path / "tenant.lock"),
            "tenant_handoff_dir": str(tmp_path / "handoff"),
            # This host's Docker is on ext4: the disk size is recorded, not enforced.
            "tenant_disk_enforcement": False,
            # This host's dockerd cannot lift memlock to unlimited (tenant_helpers.HOST_ULIMITS); the
            # role's stack default is kept.
            "tenant_ulimits": HOST_ULIMITS,
        }}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_rollout_verify_handoff_rerun_remove(docker_client, inventory, tmp_path, ssh_key):
    missing = playbook("tenant.yml", inventory)
    assert missing.returncode != 0 and "Set gpulab_hosts" in missing.stdout

    first = playbook("tenant.yml", inventory, "-e", "gpulab_hosts=gpuhost")
    assert first.returncode == 0, first.stdout
    assert recap(first.stdout)["changed"] >= 2
    assert "sshd listening" in first.stdout  # the verify step's success message
    # ... which it prints only once /dev/shm and the rlimits read inside match what was placed.
    for shm in ("48M", "32M"):
        assert "/dev/shm %s, ulimit -l 8192, ulimit -s 65536, sshd listening" % shm in first.stdout, first.stdout
    names = [PREFIX + "alice", PREFIX + "bob"]
    cores = set()
    for name in names:
        host = docker_client.api.inspect_container(name)["HostConfig"]
        cores.add(host["CpusetCpus"])
    assert len(cores) == 2

    fingerprint = subprocess.run(["ssh-keygen", "-lf", ssh_key["private"] + ".pub"], stdout=subprocess.PIPE,
                                 universal_newlines=True, check=True).stdout.split()[1]
    for name in names:
        note = tmp_path / "handoff" / ("%s@gpuhost.md" % name)
        assert stat.S_IMODE(note.stat().st_mode) == 0o600
        text = note.read_text()
        port = docker_client.api.inspect_container(name)["HostConfig"]["PortBindings"]["22/tcp"][0]["HostPort"]
        assert "ssh -p %s root@127.0.0.1" % port in text
        assert "scp -P %s" % port in text
        assert fingerprint in text
    assert "2G agreed, not enforced" in (tmp_path / "handoff" / ("%s@gpuhost.md" % names[0])).read_text()
    for name, shm in zip(names, ("48M", "32M")):  # the default: half of 96M and of 64M
        text = (tmp_path / "handoff" / ("%s@gpuhost.md" % name)).read_text()
        assert "| Shared memory (/dev/shm) | %s (counts against Memory) | `df -h /dev/shm` |" % shm in text, text
        assert "| Locked memory (memlock) | 8192 KiB | `ulimit -l` (KiB) |" in text, text
        assert "| Stack | 65536 KiB | `ulimit -s` (KiB) |" in text, text
        # tenant_usage_url unset: the one usage line names what shows limits and use inside the container.
        assert "## Your usage\nInside the container: `nvidia-smi`" in text, text

    again = playbook("tenant.yml", inventory, "-e", "gpulab_hosts=gpuhost")
    assert again.returncode == 0, again.stdout
    assert recap(again.stdout)["changed"] == 0, again.stdout

    only_bob = playbook("tenant.yml", inventory, "-e", "gpulab_hosts=gpuhost", "-e", "tenant=" + names[1])
    assert only_bob.returncode == 0 and names[0] not in only_bob.stdout.replace(names[0] + "'", "")
    # A no-op run executes the same tasks for one tenant as for two: no task loops over the tenants.
    assert recap(only_bob.stdout) == recap(again.stdout), (only_bob.stdout, again.stdout)
    assert "(item=" not in again.stdout, again.stdout

    removed = playbook("tenant_remove.yml", inventory, "-e", "gpulab_hosts=gpuhost", "-e", "tenant=" + names[0])
    assert removed.returncode == 0, removed.stdout
    left = [c.name for c in docker_client.containers.list(all=True) if c.name in names]
    assert left == [names[1]]
    assert (tmp_path / "tenants" / names[0]).is_dir()  # data kept without purge
    assert not (tmp_path / "handoff" / ("%s@gpuhost.md" % names[0])).exists()
