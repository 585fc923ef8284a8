"""module_utils/metrics/write.py: which paths may be the metrics file, and the atomic write that
leaves an unchanged file (and its mtime, and its inode) alone."""
import os
import stat

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.write import (
    PathRefused, check_target, current_bytes, would_change, write_atomic)


def test_new_file_is_written_whole_with_mode_0644(tmp_path):
    target = check_target(str(tmp_path / "gpulab.prom"))
    assert write_atomic(target, b"a 1\n") is True
    assert current_bytes(target) == b"a 1\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert sorted(os.listdir(str(tmp_path))) == ["gpulab.prom"]  # no temporary file left


def test_unchanged_bytes_touch_nothing(tmp_path):
    target = str(tmp_path / "gpulab.prom")
    write_atomic(target, b"a 1\n")
    os.utime(target, (1000000000, 1000000000))
    before = os.stat(target)
    assert would_change(target, b"a 1\n") is False
    assert write_atomic(target, b"a 1\n") is False
    after = os.stat(target)
    assert (after.st_mtime_ns, after.st_ino, after.st_ctime_ns) == (before.st_mtime_ns, before.st_ino, before.st_ctime_ns)


def test_changed_bytes_replace_the_file_by_rename(tmp_path):
    target = str(tmp_path / "gpulab.prom")
    write_atomic(target, b"a 1\n")
    inode = os.stat(target).st_ino
    reader = open(target, "rb")  # node_exporter holding the old file open still reads the old text whole
    assert write_atomic(target, b"a 2\n") is True
    assert reader.read() == b"a 1\n"
    reader.close()
    assert current_bytes(target) == b"a 2\n" and os.stat(target).st_ino != inode


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = str(tmp_path / "gpulab.prom")
    write_atomic(target, b"old\n")

    def broken_rename(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "rename", broken_rename)
    with pytest.raises(OSError):
        write_atomic(target, b"new\n")
    assert current_bytes(target) == b"old\n"
    assert sorted(os.listdir(str(tmp_path))) == ["gpulab.prom"]


def test_temporary_name_is_not_read_by_node_exporter(tmp_path, monkeypatch):
    seen = []
    real_rename = os.rename

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_rename(src, dst)
    monkeypatch.setattr(os, "rename", spy)
    write_atomic(str(tmp_path / "gpulab.prom"), b"x 1\n")
    assert seen and not seen[0].endswith(".prom") and seen[0].startswith(".")


def test_refusals(tmp_path):
    (tmp_path / "dir.prom").mkdir()
    (tmp_path / "elsewhere.prom").write_text("x")
    os.symlink(str(tmp_path / "elsewhere.prom"), str(tmp_path / "link.prom"))
    os.symlink("/etc/passwd", str(tmp_path / "out.prom"))
    cases = {
        "": "is not a path",
        "relative/gpulab.prom": "is not an absolute path",
        str(tmp_path / "gpulab.txt"): "must name a file",
        str(tmp_path / ".prom"): "must name a file",
        str(tmp_path / ".hidden.prom"): "must name a file",
        str(tmp_path / "a b.prom"): "must name a file",
        str(tmp_path) + "/": "names a directory",
        str(tmp_path / "missing" / "gpulab.prom"): "not an existing directory",
        str(tmp_path / "dir.prom"): "not a regular file",
        str(tmp_path / "link.prom"): "is a symlink",
        str(tmp_path / "out.prom"): "is a symlink",
        "/proc/gpulab.prom": "kernel file system",
        "/sys/kernel/gpulab.prom": "kernel file system",
        "/dev/gpulab.prom": "kernel file system",
        str(tmp_path / "x\x00.prom"): "NUL",
    }
    for path, reason in cases.items():
        with pytest.raises(PathRefused) as info:
            check_target(path)
        assert reason in str(info.value), (path, str(info.value))
    assert os.readlink(str(tmp_path / "out.prom")) == "/etc/passwd"


def test_directory_symlink_is_resolved(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(str(tmp_path / "real"), str(tmp_path / "alias"))
    assert check_target(str(tmp_path / "alias" / "gpulab.prom")) == str(tmp_path / "real" / "gpulab.prom")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=6))
def test_the_file_always_holds_the_last_text(tmp_path_factory, texts):
    target = str(tmp_path_factory.mktemp("w") / "gpulab.prom")
    previous = None
    for text in texts:
        assert write_atomic(target, text) is (text != previous)
        assert current_bytes(target) == text
        previous = text
