"""What the refresh reads from tenants' files (plugins/module_utils/metrics/tenantfs.py): the newest login
among wtmp records (utmp records written here in glibc's 64-bit layout), the wtmp opened only as a regular
file inside the container's root without following links, and the data quota's use from statfs, trusted only
when statfs answers with the tenant's limit."""
import os
import struct
import time
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.tenantfs import (
    UTMP_SIZE, WTMP_TAIL_RECORDS, TenantFiles, newest_login)


def utmp(kind, seconds, user="root"):
    """One struct utmp record (glibc, x86_64/aarch64): type, pid, line, id, user, host, exit, session, tv."""
    record = struct.pack("<hxxi32s4s32s256shhiii", kind, 42, b"pts/0", b"ts/0", user.encode(), b"10.0.0.1",
                         0, 0, 0, seconds, 0)
    return record + b"\0" * (UTMP_SIZE - len(record))


def test_a_record_is_as_long_as_glibc_says_and_the_time_sits_where_it_reads_it():
    record = utmp(7, 1700000000)
    assert len(record) == UTMP_SIZE == 384
    assert newest_login(record) == 1700000000


RECORDS = st.lists(st.tuples(st.sampled_from([1, 2, 5, 6, 7, 8]), st.integers(min_value=0, max_value=2 ** 31 - 1)),
                   max_size=40)


@settings(max_examples=200, deadline=None)
@given(RECORDS, st.binary(max_size=UTMP_SIZE - 1))
def test_the_newest_login_is_the_latest_user_process_of_the_whole_records(records, torn):
    """Any mix of record types (boot, logins, logouts, dead processes), after a torn partial record at the
    start (a tail read from the middle of a record): only USER_PROCESS records with a time count."""
    data = torn + b"".join(utmp(kind, seconds) for kind, seconds in records)
    logins = [seconds for kind, seconds in records if kind == 7 and seconds > 0]
    assert newest_login(data) == (max(logins) if logins else None)


def container(tmp_path, pid=4242):
    root = tmp_path / "proc" / str(pid) / "root"
    (root / "var" / "log").mkdir(parents=True)
    return TenantFiles(str(tmp_path / "proc")), root


def test_last_login_from_the_containers_wtmp(tmp_path):
    files, root = container(tmp_path)
    (root / "var" / "log" / "wtmp").write_bytes(utmp(2, 1600000000) + utmp(7, 1700000000) + utmp(8, 1700000500))
    assert files.last_login(4242) == 1700000000


def test_only_the_tail_of_a_long_wtmp_is_read(tmp_path):
    files, root = container(tmp_path)
    old = utmp(7, 1900000000)  # newer time, but outside the tail
    tail = [utmp(7, 1700000000 + i) for i in range(WTMP_TAIL_RECORDS)]
    (root / "var" / "log" / "wtmp").write_bytes(old + b"".join(tail))
    assert files.last_login(4242) == 1700000000 + WTMP_TAIL_RECORDS - 1


def test_no_wtmp_no_record_or_no_process_is_no_login(tmp_path):
    files, root = container(tmp_path)
    assert files.last_login(4242) is None
    (root / "var" / "log" / "wtmp").write_bytes(b"")
    assert files.last_login(4242) is None
    assert files.last_login(0) is None
    assert files.last_login(999999) is None


def test_a_tenant_cannot_point_the_refresh_at_a_host_file(tmp_path):
    """The tenant owns its root filesystem: a wtmp that is a link (to a host path with a login record), a
    /var/log that is a link, a FIFO (which would block a reader) or a directory is no login, and fast."""
    secret = tmp_path / "host-file"
    secret.write_bytes(utmp(7, 1234567890))
    files, root = container(tmp_path)
    wtmp = root / "var" / "log" / "wtmp"
    wtmp.symlink_to(secret)
    assert files.last_login(4242) is None
    wtmp.unlink()
    os.mkfifo(str(wtmp))
    started = time.monotonic()
    assert files.last_login(4242) is None
    assert time.monotonic() - started < 5
    wtmp.unlink()
    wtmp.mkdir()
    assert files.last_login(4242) is None
    wtmp.rmdir()
    (root / "var" / "log").rmdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "wtmp").write_bytes(utmp(7, 1234567890))
    (root / "var" / "log").symlink_to(tmp_path / "elsewhere")
    assert files.last_login(4242) is None


def statvfs_of(blocks, free, frsize=4096):
    def statvfs(path):
        assert path == "/srv/tenants/ada"
        return SimpleNamespace(f_frsize=frsize, f_bsize=frsize, f_blocks=blocks, f_bfree=free)
    return statvfs


def test_data_use_is_limit_less_free_when_statfs_answers_with_the_quota():
    limit = 1 << 30
    files = TenantFiles(statvfs=statvfs_of(limit // 4096, limit // 4096 - 768))
    assert files.data_used("/srv/tenants/ada", limit) == 768 * 4096


@given(st.integers(min_value=1, max_value=1 << 44), st.integers(min_value=2, max_value=1 << 30))
def test_a_statfs_that_is_not_the_tenants_quota_is_not_reported(fs_blocks, limit_blocks):
    """Without the project on the directory statfs answers for the whole filesystem: its size differs from the
    tenant's limit (by two blocks or more) and nothing is reported rather than the filesystem's use."""
    if abs(fs_blocks - limit_blocks) < 2:
        return
    files = TenantFiles(statvfs=statvfs_of(fs_blocks, 0))
    assert files.data_used("/srv/tenants/ada", limit_blocks * 4096) is None


def test_no_limit_no_path_a_relative_path_or_an_unreadable_one_is_not_reported():
    def fails(path):
        raise OSError(2, "No such file or directory")
    assert TenantFiles(statvfs=fails).data_used("/srv/tenants/ada", 1 << 30) is None
    files = TenantFiles(statvfs=statvfs_of(10, 5))
    assert files.data_used("/srv/tenants/ada", None) is None
    assert files.data_used("", 40960) is None
    assert files.data_used("srv/tenants/ada", 40960) is None
