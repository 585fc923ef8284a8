"""Units of the tenant module's data safety: path confinement, symlink-proof removal, the lock's
clean-up after a failed run, and the undo journal (quota projects included, with a recording
stand-in for xfs_quota: this host has no xfs with pquota)."""

import pytest

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.apply import _set_quota
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.lock import HostLock
from ansible_collections.gpulab.dgx.plugins.module_utils.common.paths import overlaps
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.paths import (
    check_base, check_no_overlap, make_dirs, remove_tree)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, check_path, parse_ssh_key
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.undo import RunFailed, Undo, field_of


@pytest.mark.parametrize("base", ["/", "/etc", "/etc/x", "/usr/local/t", "/var/lib/docker", "/var/lib/docker/v",
                                  "/run", "/var/run/x", "/proc/1", "/sys", "/dev/shm", "/boot", "/root/t", "/home",
                                  "/home/alice", "/raid", "/tmp", "/var", "/var/lib", "/opt", "relative",
                                  "/a/../b", "/a/./b", "/a//b"])
def test_base_refused(base):
    with pytest.raises(SpecError) as info:
        check_base("data_base", base)
    assert info.value.field == "data_base" and info.value.value == base


@pytest.mark.parametrize("base", ["/raid/gpulab/tenants", "/var/lib/gpulab/tenants", "/home/shared/tenants",
                                  "/srv/tenants", "/tmp/x/tenants"])
def test_base_accepted(base):
    assert check_base("data_base", base) == base


def test_base_with_a_symlink_or_a_file_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "file").write_text("x")
    for bad, why in ((tmp_path / "link" / "t", "symlink"), (tmp_path / "file" / "t", "not a directory")):
        with pytest.raises(SpecError) as info:
            check_base("data_base", str(bad))
        assert why in str(info.value)


@pytest.mark.parametrize("a,b,expected", [("/a/b", "/a/b", True), ("/a/b", "/a", True), ("/a", "/a/b", True),
                                          ("/a/b", "/a/bc", False), ("/a/bc", "/a/b", False), ("/x", "/y", False)])
def test_overlaps(a, b, expected):
    assert overlaps(a, b) is expected


def test_overlap_rules():
    others = [("bob", "/t/bob")]
    for path in ("/t/bob", "/t/bob/sub", "/t"):
        with pytest.raises(SpecError):
            check_no_overlap("data_base", path, others, [])
    check_no_overlap("data_base", "/t/bobby", others, [])
    # a read-only mount of a parent (a monitoring agent's view of /) is no overlap; a writable one is
    check_no_overlap("data_base", "/t/alice", [], [("agent", "/", False), ("x", "/t", False)])
    with pytest.raises(SpecError):
        check_no_overlap("data_base", "/t/alice", [], [("backup", "/t", True)])
    with pytest.raises(SpecError):
        check_no_overlap("data_base", "/t/alice", [], [("web", "/t/alice/www", False)])


def test_remove_tree_never_follows_symlinks(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    target = tmp_path / "t"
    (target / "a" / "b").mkdir(parents=True)
    (target / "a" / "b" / "f").write_text("x")
    (target / "a" / "dirlink").symlink_to(outside)
    (target / "filelink").symlink_to(outside / "keep")
    remove_tree(str(target))
    assert not target.exists() and (outside / "keep").read_text() == "keep"


def test_remove_tree_refuses_a_symlinked_target_or_parent(tmp_path):
    real = tmp_path / "real"
    (real / "t").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    (tmp_path / "tlink").symlink_to(real / "t")
    for path in (tmp_path / "link" / "t", tmp_path / "tlink"):
        with pytest.raises(OSError):
            remove_tree(str(path))
    assert (real / "t").is_dir()


def test_make_dirs_reports_what_it_made(tmp_path):
    made = make_dirs(str(tmp_path / "a" / "b" / "c"))
    assert made == [str(tmp_path / "a"), str(tmp_path / "a" / "b"), str(tmp_path / "a" / "b" / "c")]
    assert make_dirs(str(tmp_path / "a" / "b" / "c")) == []
    (tmp_path / "l").symlink_to(tmp_path / "a")
    with pytest.raises(OSError):
        make_dirs(str(tmp_path / "l" / "x"))


def test_lock_discard_removes_only_what_it_created(tmp_path):
    path = tmp_path / "run" / "lock" / "t.lock"
    with HostLock(str(path), timeout=1) as lock:
        assert path.exists()
        assert lock.discard() == [str(path), str(tmp_path / "run" / "lock"), str(tmp_path / "run")]
    assert not (tmp_path / "run").exists()
    path.parent.mkdir(parents=True)
    path.write_text("")
    with HostLock(str(path), timeout=1) as lock:
        assert lock.discard() == []
    assert path.exists()


def test_lock_in_check_mode_creates_nothing_and_bad_paths_name_lock_path(tmp_path):
    with HostLock(str(tmp_path / "new" / "t.lock"), create=False):
        pass
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("")
    for bad in (tmp_path, tmp_path / "file" / "t.lock"):
        with pytest.raises(SpecError) as info:
            with HostLock(str(bad), timeout=1):
                pass
        assert info.value.field == "lock_path"


def test_undo_runs_in_reverse_and_reports_what_it_could_not():
    done = []

    def fail():
        raise OSError("busy")

    undo = Undo()
    undo.add("first", lambda: done.append(1))
    undo.add("second", fail)
    undo.add("third", lambda: done.append(3))
    undone, failed = undo.run()
    assert done == [3, 1] and undone == ["third", "first"] and failed == ["second (busy)"]
    message = str(RunFailed("gpus", 1, "was refused", undone, failed))
    assert message.startswith("gpus: 1 was refused; undone: third; first; NOT undone")


@pytest.mark.parametrize("message,field", [
    ('could not select device driver "nvidia" with capabilities: [[gpu]]', "gpus"),
    ("network gpulab-x not found", "network"),
    ("Requested CPUs are not available - requested 0-99, available: 0-1", "cpus"),
    ("Bind for 127.0.0.1:2222 failed: port is already allocated", "ssh_port"),
    ("invalid mount config for type \"bind\"", "data_mount"),
    ("something else", "name"),
])
def test_docker_refusals_name_an_option(message, field):
    assert field_of(message) == field


class Record(object):
    def __init__(self, quota_project, disk):
        self.quota_project = quota_project
        self.disk = disk


class Spec(object):
    data_dir = "/raid/t/alice"
    disk = 2048


@pytest.mark.parametrize("current,expected_undo", [
    (None, "project -C -p /raid/t/alice 7"),
    (Record(5, 1024), "limit -p bhard=1024 5"),
])
def test_quota_project_is_undone(current, expected_undo):
    """TEST DOUBLE of xfs_quota: a recorder of the command lines the module would run."""
    ran = []
    undo = Undo()
    _set_quota({"quota_project": 7, "quota_mount": "/raid", "current": current}, Spec(), ran.append, undo)
    assert ["xfs_quota", "-x", "-c", "limit -p bhard=2048 7", "/raid"] in ran
    del ran[:]
    undo.run()
    assert any(expected_undo in argv for argv in ran), ran


def test_private_keys_are_named_by_position_never_echoed():
    secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAsecretbody\n-----END OPENSSH PRIVATE KEY-----"
    with pytest.raises(SpecError) as info:
        parse_ssh_key(secret, "ssh_public_keys[1]")
    assert "ssh_public_keys[1]" in str(info.value) and "private key" in str(info.value)
    assert "secretbody" not in str(info.value) + str(info.value.value)


@pytest.mark.parametrize("path", ["/a\n", "/a\x00", "/a:b", "/a,b", "/a/../b", "rel", "/"])
def test_check_path_refuses(path):
    with pytest.raises(SpecError):
        check_path("data_mount", path)
