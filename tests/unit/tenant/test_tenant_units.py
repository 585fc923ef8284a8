"""Unit tests of the tenant module's pure parts: sizes, spec validation, ports, disk/quota,
ledger read-back, allocation, the desired container and its in-place differences, the lock."""

import base64
import os
import struct
import subprocess
import sys

import pytest

from ansible_collections.gpulab.dgx.plugins.module_utils.common.sizes import SizeError, format_size, parse_size
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc import allocate
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.disk import (
    data_quota_support, mount_for, parse_mountinfo, project_id, quota_clear_commands, quota_set_commands,
    storage_opt_support)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.container import Desired, in_place_changes
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import Ledger, TenantRecord
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.lock import HostLock, LockTimeout
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ports import choose_port, preferred_port
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, parse_ssh_key, validate_spec

GiB = 1024 ** 3


def key(kind="ssh-ed25519", body=b"\x01" * 32):
    blob = struct.pack(">I", len(kind)) + kind.encode() + struct.pack(">I", len(body)) + body
    return "%s %s me@host" % (kind, base64.b64encode(blob).decode())


def params(**over):
    base = {"name": "alice", "state": "present", "image": "img:1", "gpus": 2, "cpus": 4, "memory": "8G",
            "ssh_public_keys": [key()], "ssh_port_range": "2200-2299", "data_base": "/srv/t"}
    base.update(over)
    return base


@pytest.mark.parametrize("text,expected", [
    ("128G", 128 * GiB), ("512GiB", 512 * GiB), ("1.5T", int(1.5 * 1024 * GiB)), ("100M", 100 * 1024 ** 2),
    ("100m", 100 * 1024 ** 2), ("2gb", 2 * GiB), ("4096", 4096), ("10B", 10), (" 3 K ", 3072), (7, 7),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["12Q", "-1G", "lots", "1.2.3G", "", "G", "1e3G", None, True, -4, "10 gigs"])
def test_parse_size_rejects_naming_the_value(text):
    with pytest.raises(SizeError) as info:
        parse_size(text, "memory")
    assert str(info.value).startswith("memory: %r" % (text,))


def test_format_size():
    assert [format_size(v) for v in (128 * GiB, 1536 * 1024 ** 2, 100, None)] == ["128G", "1536M", "100B", ""]


def test_validate_spec_happy_path():
    spec = validate_spec(params(env={"A": 1, "B": True}, labels={"team": "nlp"}))
    assert (spec.gpus, spec.cpus, spec.memory) == (2, 4, 8 * GiB)
    assert spec.env == {"A": "1", "B": "true"} and spec.ssh_port_range == (2200, 2299)
    assert spec.ssh_keys[0].fingerprint.startswith("SHA256:")


def test_fingerprint_matches_ssh_keygen(tmp_path):
    path = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    pub = (tmp_path / "k.pub").read_text().strip()
    want = subprocess.run(["ssh-keygen", "-lf", str(path) + ".pub"], stdout=subprocess.PIPE,
                          universal_newlines=True, check=True).stdout.split()[1]
    assert parse_ssh_key(pub).fingerprint == want


@pytest.mark.parametrize("over,field", [
    ({"name": "a b"}, "name"), ({"gpus": -1}, "gpus"), ({"cpus": -1}, "cpus"), ({"memory": "3X"}, "memory"),
    ({"disk": "0"}, "disk"), ({"ssh_public_keys": ["ssh-rsa " + key().split()[1]]}, "ssh_public_keys"),
    ({"ssh_port": 0}, "ssh_port"), ({"env": {"GPULAB_X": "1"}}, "env"), ({"labels": {"gpulab.x": "1"}}, "labels"),
    ({"data_base": "/"}, "data_base"), ({"network": "none"}, "network"), ({"image": ""}, "image"),
])
def test_validate_spec_rejects(over, field):
    with pytest.raises(SpecError) as info:
        validate_spec(params(**over))
    assert info.value.field.split("[")[0] == field and str(info.value).startswith(info.value.field + ": ")


def test_absent_needs_no_image():
    spec = validate_spec({"name": "bob", "state": "absent", "purge": True, "archive_to": "/a"})
    assert spec.data_dir == "/var/lib/gpulab/tenants/bob" and spec.archive_to == "/a"


def test_ports_stable_kept_and_checked():
    def free(addr, port):
        return True

    first = choose_port("alice", None, None, (2200, 2299), set(), "0.0.0.0", free)
    assert first == preferred_port("alice", (2200, 2299))
    assert choose_port("alice", None, None, (2200, 2299), {first}, "0.0.0.0", free) == (first - 2200 + 1) % 100 + 2200
    assert choose_port("alice", None, 2250, (2200, 2299), set(), "0.0.0.0", free) == 2250
    with pytest.raises(SpecError, match="already published"):
        choose_port("alice", 2222, None, (2200, 2299), {2222}, "0.0.0.0", free)
    with pytest.raises(SpecError, match="in use"):
        choose_port("alice", 2222, None, (2200, 2299), set(), "0.0.0.0", lambda a, p: False)
    with pytest.raises(SpecError, match="no free port"):
        choose_port("alice", None, None, (2200, 2201), {2200, 2201}, "0.0.0.0", free)


MOUNTINFO = """\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 9:1 / /raid rw,relatime - xfs /dev/md1 rw,attr2,inode64,prjquota
41 40 9:1 /docker /var/lib/docker rw,relatime - xfs /dev/md1 rw,attr2,inode64,prjquota
42 27 9:2 / /scratch rw,relatime - xfs /dev/md2 rw,attr2,noquota
"""


def test_disk_support_detection():
    mounts = parse_mountinfo(MOUNTINFO)
    assert mount_for("/var/lib/docker/overlay2", mounts).mountpoint == "/var/lib/docker"
    info = {"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "xfs"]], "DockerRootDir": "/var/lib/docker"}
    assert storage_opt_support(info, mounts) == (True, "")
    ok, why = storage_opt_support(dict(info, DriverStatus=[["Backing Filesystem", "extfs"]]), mounts)
    assert not ok and "extfs" in why
    ok, why = storage_opt_support(dict(info, DockerRootDir="/scratch/docker"), mounts)
    assert not ok and "without pquota" in why
    assert data_quota_support("/raid/tenants/alice", mounts)[0]
    assert not data_quota_support("/home/alice", mounts)[0]


def test_quota_commands():
    assert quota_set_commands("/raid", "/raid/t/a", 7, 512 * GiB) == [
        ["xfs_quota", "-x", "-c", "project -s -p /raid/t/a 7", "/raid"],
        ["xfs_quota", "-x", "-c", "limit -p bhard=%d 7" % (512 * GiB), "/raid"]]
    assert quota_clear_commands("/raid", "/raid/t/a", 7)[0] == ["xfs_quota", "-x", "-c", "limit -p bhard=0 7", "/raid"]
    pid = project_id("alice")
    assert project_id("alice", [pid]) == pid + 1


def topology(gpus=4):
    return {"gpus": [{"index": i, "uuid": "GPU-%d" % i, "numa_node": i // 2, "cpus": []} for i in range(gpus)],
            "links": dict(("%d,%d" % (i, j), "NV12") for i in range(gpus) for j in range(i + 1, gpus)),
            "numa_nodes": {"0": {"cpus": [0, 1, 2, 3], "distance": {"0": 10, "1": 20}},
                           "1": {"cpus": [4, 5, 6, 7], "distance": {"0": 20, "1": 10}}},
            "siblings": []}


def record(name, gpus, cpuset, memory=GiB, port=2200, policy="strict", spec_hash="h"):
    return TenantRecord({
        "Id": name + "-id", "Name": "/" + name, "State": {"Running": True}, "Image": "sha256:x",
        "Config": {"Image": "img:1", "Labels": {"gpulab.tenant": name, "gpulab.cpuset": cpuset,
                                                "gpulab.spec-hash": spec_hash, "gpulab.numa-policy": policy}},
        "HostConfig": {"CpusetCpus": cpuset, "CpusetMems": "0", "Memory": memory, "MemorySwap": memory,
                       "CpuQuota": 100000 * len(cpuset.split(",")), "CpuPeriod": 100000,
                       "DeviceRequests": [{"Driver": "nvidia", "DeviceIDs": gpus}] if gpus else None,
                       "PortBindings": {"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}]}}})


def test_ledger_reads_back_tenants_and_foreign_ports():
    foreign = {"Name": "/web", "Config": {"Labels": {}}, "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}}
    ledger = Ledger([record("a", ["GPU-0"], "0,1").attrs, foreign])
    assert list(ledger.tenants) == ["a"] and ledger.foreign_ports == {8080}
    assert ledger.tenants["a"].gpu_ids == ["GPU-0"] and ledger.tenants["a"].cpus == [0, 1]
    assert ledger.ports_taken_by_others("b") == {8080, 2200}


def test_allocation_kept_when_request_unchanged():
    spec = validate_spec(params(gpus=1, cpus=2))
    calls = []
    alloc = allocate(spec, record("alice", ["GPU-3"], "4,5"), [], topology(), place_fn=lambda *a, **k: calls.append(a))
    assert not alloc.placed and alloc.gpu_ids == ["GPU-3"] and alloc.cpuset == "4-5" and alloc.mems == "1" and not calls


def test_allocation_replaced_keeps_gpus_and_avoids_others():
    spec = validate_spec(params(gpus=1, cpus=3))
    others = [record("bob", ["GPU-0"], "0,1")]
    alloc = allocate(spec, record("alice", ["GPU-3"], "4,5"), others, topology())
    assert alloc.placed and alloc.gpu_ids == ["GPU-3"] and not set(alloc.cpus) & {0, 1}


def test_allocation_fails_naming_the_field():
    others = [record("bob", ["GPU-0", "GPU-1", "GPU-2"], "0")]
    with pytest.raises(SpecError, match="^gpus: 2 is more than the 1 free"):
        allocate(validate_spec(params(gpus=2, cpus=1)), None, others, topology())
    with pytest.raises(SpecError, match="^cpus: 8 is more than the 7 free"):
        allocate(validate_spec(params(gpus=0, cpus=8)), None, others, topology())


def test_desired_hash_ignores_in_place_limits_and_in_place_changes():
    # An explicit shm_size: the default follows memory, and /dev/shm cannot change in place.
    spec = validate_spec(params(gpus=1, cpus=2, shm_size="1G"))
    alloc = allocate(spec, None, [], topology())
    one = Desired(spec, alloc, 2200, "sha256:x", None, None)
    two = Desired(validate_spec(params(gpus=1, cpus=2, memory="16G", shm_size="1G")), alloc, 2200, "sha256:x",
                  None, None)
    assert one.spec_hash == two.spec_hash
    assert Desired(spec, alloc, 2201, "sha256:x", None, None).spec_hash != one.spec_hash
    assert Desired(spec, alloc, 2200, "sha256:y", None, None).spec_hash != one.spec_hash
    live = record("alice", alloc.gpu_ids, alloc.cpuset, memory=8 * GiB)
    live.cpuset_mems = alloc.mems
    live.cpu_quota = 200000
    assert in_place_changes(live, one) == {}
    assert in_place_changes(live, two) == {"mem_limit": 16 * GiB, "memswap_limit": 16 * GiB}
    live.cpu_quota = 50000
    assert in_place_changes(live, one) == {"cpu_quota": 200000, "cpu_period": 100000}


def test_desired_env_and_device_requests():
    spec = validate_spec(params(gpus=0, cpus=1))
    desired = Desired(spec, allocate(spec, None, [], topology()), 2200, "sha256:x", None, None)
    assert "NVIDIA_VISIBLE_DEVICES=void" in desired.env and "device_requests" not in desired.create_kwargs()
    spec = validate_spec(params(gpus=2, cpus=1))
    kwargs = Desired(spec, allocate(spec, None, [], topology()), 2200, "sha256:x", 5 * GiB, 9).create_kwargs()
    assert kwargs["device_requests"][0]["DeviceIDs"] == ["GPU-0", "GPU-1"]
    assert kwargs["storage_opt"] == {"size": str(5 * GiB)} and kwargs["restart_policy"] == {"Name": "unless-stopped"}
    assert kwargs["labels"]["gpulab.quota-project"] == "9" and kwargs["labels"]["gpulab.gpus"] == "GPU-0,GPU-1"


def test_lock_excludes_a_second_holder(tmp_path):
    path = str(tmp_path / "lock")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys\n"
        "fd = os.open(%r, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n") % path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockTimeout):
            with HostLock(path, timeout=0.3):
                pass
    finally:
        holder.stdin.close()
        holder.wait()
    with HostLock(path, timeout=5) as lock:
        assert os.path.exists(lock.path)
