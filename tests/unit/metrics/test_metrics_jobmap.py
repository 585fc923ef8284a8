"""dcgm-exporter's job mapping files (plugins/module_utils/metrics/jobmap.py): one file per held GPU
index with the tenants' names, only index-named files touched, atomic and lazy writes, check mode."""
import os

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.jobmap import JobMapRefused, check_job_dir, job_map, sync_job_map

# dcgm-exporter's own name pattern for mapping files (internal/pkg/transformation/hpc.go, validGPUFile).
DCGM_NAME = __import__("re").compile(r"^\d+(\.\d+)?$")


def listing(directory):
    return dict((name, open(os.path.join(directory, name)).read()) for name in sorted(os.listdir(directory))
                if not os.path.isdir(os.path.join(directory, name)))


def test_map_of_tenants():
    assert job_map([("bob", [2]), ("alice", [1, 0, None]), ("carl", [])]) == {"0": ["alice"], "1": ["alice"], "2": ["bob"]}
    assert job_map([("b", [0]), ("a", [0]), ("a", [0])]) == {"0": ["a", "b"]}


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(names, st.lists(st.integers(0, 15), max_size=4)), max_size=6),
       st.lists(st.tuples(names, st.lists(st.integers(0, 15), max_size=4)), max_size=6),
       st.lists(st.sampled_from(["7.1", "x", "07a", ".0.tmp", "README"]), max_size=3))
def test_sync_ends_with_exactly_the_wanted_files_and_leaves_other_names(tmp_path_factory, before, after, others):
    directory = str(tmp_path_factory.mktemp("jobs"))
    for other in set(others):
        with open(os.path.join(directory, other), "w") as handle:
            handle.write("foreign")
    sync_job_map(directory, job_map(before))
    wanted = job_map(after)
    planned = sync_job_map(directory, wanted, check_mode=True)
    state_before = listing(directory)
    changed = sync_job_map(directory, wanted)
    assert planned == changed
    got = listing(directory)
    assert changed == (got != state_before)
    expected = dict((i, "".join(n + "\n" for n in ns)) for i, ns in wanted.items())
    expected.update((other, "foreign") for other in set(others))
    assert got == expected
    for name in got:
        if name in wanted:
            assert DCGM_NAME.match(name) and oct(os.stat(os.path.join(directory, name)).st_mode & 0o777) == "0o644"
    assert sync_job_map(directory, wanted) is False  # a second run changes nothing


def test_unchanged_files_keep_their_inode_and_mtime(tmp_path):
    sync_job_map(str(tmp_path), {"0": ["alice"]})
    os.utime(str(tmp_path / "0"), ns=(1, 1_000_000_000))
    before = os.stat(str(tmp_path / "0"))
    assert sync_job_map(str(tmp_path), {"0": ["alice"]}) is False
    after = os.stat(str(tmp_path / "0"))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_symlink_named_by_an_index_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("precious")
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    os.symlink(str(outside), str(jobs / "0"))
    os.symlink(str(outside), str(jobs / "1"))
    assert sync_job_map(str(jobs), {"0": ["alice"]}, check_mode=True) is True
    assert os.path.islink(str(jobs / "0"))
    assert sync_job_map(str(jobs), {"0": ["alice"]}) is True
    assert outside.read_text() == "precious"
    assert not os.path.islink(str(jobs / "0")) and (jobs / "0").read_text() == "alice\n"
    assert not os.path.lexists(str(jobs / "1"))


def test_a_directory_named_by_an_index_is_refused_and_nothing_changes(tmp_path):
    (tmp_path / "3").mkdir()
    (tmp_path / "5").write_text("old\n")
    with pytest.raises(OSError):
        sync_job_map(str(tmp_path), {"0": ["alice"]})
    assert sorted(os.listdir(str(tmp_path))) == ["3", "5"]


@pytest.mark.parametrize("path", ["", "relative/dir", "/", "/proc", "/sys/kernel", "/dev", "/nonexistent/x", "/a\x00b"])
def test_refused_directories(path):
    with pytest.raises(JobMapRefused):
        check_job_dir(path)


def test_a_symlinked_directory_resolves(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(str(real), str(tmp_path / "link"))
    assert check_job_dir(str(tmp_path / "link")) == str(real)
