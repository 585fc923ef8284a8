"""module_utils/metrics/cgroup.py: host process -> Docker container from /proc/<pid>/cgroup text
(cgroup v1 and v2, cgroupfs and systemd drivers, nested, foreign runtimes), mount points from
mountinfo, and a container's usage read from a cgroup tree laid out in a temporary directory."""
import os

from hypothesis import given, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.cgroup import (
    UNIFIED, CgroupReader, container_ids, container_paths, parse_mountinfo, parse_proc_cgroup)

A = "1bf066e2111c360f672f8d861609a1a58a80072230b4ecbb950efe087884019e"
B = "e798350693f2" + "0" * 52

# A process of a container on a cgroup v1 host (cgroupfs driver), as seen on this project's test host.
V1 = """13:hugetlb:/
12:net_cls,net_prio:/
9:name=systemd:/docker/%(a)s
8:pids:/docker/%(a)s
4:memory:/docker/%(a)s
3:cpuset:/docker/%(a)s
2:cpu,cpuacct:/docker/%(a)s
0::/docker/%(a)s
""" % {"a": A}
# systemd as PID 1 in the container: its processes sit in init.scope below the container's cgroup.
V1_SYSTEMD_INSIDE = """4:memory:/docker/%(a)s/init.scope
2:cpuacct:/docker/%(a)s
1:cpu:/docker/%(a)s/init.scope
0::/docker/%(a)s/init.scope
""" % {"a": A}
V2_SYSTEMD = "0::/system.slice/docker-%s.scope\n" % A
V2_CGROUPFS = "0::/docker/%s\n" % A
NESTED = "0::/system.slice/docker-%s.scope/docker/%s\n" % (A, B)
NESTED_V1 = "4:memory:/docker/%s/docker/%s\n2:cpuacct:/docker/%s/docker/%s\n" % (A, B, A, B)


def test_v1_cgroupfs():
    assert container_ids(V1) == [A]
    paths = container_paths(V1, A)
    assert paths["memory"] == paths["cpuacct"] == paths["cpu"] == paths[UNIFIED] == "/docker/" + A
    assert "hugetlb" not in paths  # "/" names no container


def test_systemd_inside_the_container_is_cut_at_the_container():
    assert container_ids(V1_SYSTEMD_INSIDE) == [A]
    paths = container_paths(V1_SYSTEMD_INSIDE, A)
    assert set(paths.values()) == {"/docker/" + A}


def test_v2_systemd_driver_and_cgroupfs_driver():
    assert container_ids(V2_SYSTEMD) == [A]
    assert container_paths(V2_SYSTEMD, A) == {UNIFIED: "/system.slice/docker-%s.scope" % A}
    assert container_ids(V2_CGROUPFS) == [A]


def test_nested_gives_the_innermost_first():
    assert container_ids(NESTED) == [B, A]
    assert container_paths(NESTED, B) == {UNIFIED: "/system.slice/docker-%s.scope/docker/%s" % (A, B)}
    assert container_paths(NESTED, A) == {UNIFIED: "/system.slice/docker-%s.scope" % A}
    assert container_ids(NESTED_V1) == [B, A]


def test_non_docker_processes_name_no_container():
    for text in ("0::/\n", "0::/user.slice/user-1000.slice/session-3.scope\n",
                 "0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-%s.scope\n" % A,
                 "0::/kubepods/besteffort/pod1234/%s\n" % A,  # a bare ID not below docker
                 "0::/machine.slice/libpod-%s.scope\n" % A,
                 "0::/system.slice/docker.service\n", "", "garbage\n", "0::/docker/%s\n" % A[:-1]):
        assert container_ids(text) == [], text


def test_controller_lines():
    parsed = parse_proc_cgroup("2:cpu,cpuacct:/x\n9:name=systemd:/y\n0::/z\nbad line\n5::relative\n")
    assert parsed == {"cpu": "/x", "cpuacct": "/x", "name=systemd": "/y", UNIFIED: "/z"}


hex_ids = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
prefixes = st.lists(st.sampled_from(["system.slice", "user.slice", "kubepods", "a b", "x.scope"]), max_size=3)


@given(hex_ids, prefixes, st.sampled_from(["docker/%s", "docker-%s.scope"]), st.sampled_from(["", "/init.scope", "/a/b"]))
def test_any_docker_path_names_its_container(cid, prefix, form, tail):
    path = "/" + "/".join(prefix + [form % cid]) + tail
    text = "0::%s\n4:memory:%s\n" % (path, path)
    assert container_ids(text) == [cid]
    assert container_paths(text, cid)[UNIFIED] == "/" + "/".join(prefix + [form % cid])


MOUNTINFO = r"""25 30 0:23 / /sys rw,nosuid shared:7 - sysfs sysfs rw
31 25 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
35 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct
36 31 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory
37 31 0:32 / /sys/fs/cgroup/systemd rw,nosuid shared:16 - cgroup cgroup rw,xattr,name=systemd
38 31 0:33 /docker/abc /sys/fs/cgroup/with\040space rw - cgroup cgroup rw,pids
"""


def test_mountinfo():
    mounts = parse_mountinfo(MOUNTINFO)
    assert mounts[UNIFIED] == ("/", "/sys/fs/cgroup/unified")
    assert mounts["cpu"] == mounts["cpuacct"] == ("/", "/sys/fs/cgroup/cpu,cpuacct")
    assert mounts["memory"] == ("/", "/sys/fs/cgroup/memory")
    assert mounts["name=systemd"] == ("/", "/sys/fs/cgroup/systemd")
    assert mounts["pids"] == ("/docker/abc", "/sys/fs/cgroup/with space")
    assert "xattr" not in mounts and "rw" not in mounts


def fake_host(tmp_path, version):
    """A /proc and /sys/fs/cgroup laid out under tmp_path for one container (PID 4242)."""
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "4242").mkdir()
    cg = tmp_path / "cgroup"
    if version == 1:
        (proc / "self" / "mountinfo").write_text(
            "35 31 0:30 / %s/cpuacct rw - cgroup cgroup rw,cpuacct\n36 31 0:31 / %s/memory rw - cgroup cgroup rw,memory\n"
            "32 31 0:27 / %s/unified rw - cgroup2 cgroup2 rw\n" % (cg, cg, cg))
        (proc / "4242" / "cgroup").write_text(V1_SYSTEMD_INSIDE)
        cpu = cg / "cpuacct" / "docker" / A
        mem = cg / "memory" / "docker" / A
        cpu.mkdir(parents=True)
        mem.mkdir(parents=True)
        (cpu / "cpuacct.usage").write_text("2500000000\n")
        (mem / "memory.usage_in_bytes").write_text("10485760\n")
        (mem / "memory.stat").write_text(
            "cache 100\nrss 1\ninactive_file 1\ntotal_cache 6291456\ntotal_rss 4194304\ntotal_inactive_file 4194304\n")
    else:
        (proc / "self" / "mountinfo").write_text("32 31 0:27 / %s rw - cgroup2 cgroup2 rw\n" % cg)
        (proc / "4242" / "cgroup").write_text(V2_SYSTEMD)
        scope = cg / "system.slice" / ("docker-%s.scope" % A)
        scope.mkdir(parents=True)
        (scope / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
        (scope / "memory.current").write_text("10485760\n")
        (scope / "memory.stat").write_text("anon 4194304\nfile 6291456\nkernel 999\ninactive_file 4194304\n")
    return CgroupReader(str(proc))


def test_usage_v1(tmp_path):
    usage = fake_host(tmp_path, 1).usage(4242, A)
    assert usage.cpu_seconds == 2.5
    assert usage.memory_bytes == 10485760 - 4194304


def test_usage_v2(tmp_path):
    usage = fake_host(tmp_path, 2).usage(4242, A)
    assert usage.cpu_seconds == 2.5
    assert usage.memory_bytes == 10485760 - 4194304


def test_usage_of_a_gone_process_or_other_container_is_unknown(tmp_path):
    reader = fake_host(tmp_path, 2)
    gone = reader.usage(999999, A)
    assert gone.cpu_seconds is None and gone.memory_bytes is None
    other = reader.usage(4242, B)
    assert other.cpu_seconds is None and other.memory_bytes is None


def test_container_of_picks_a_known_container(tmp_path):
    reader = fake_host(tmp_path, 2)
    assert reader.container_of(4242, {A: "x"}) == A
    assert reader.container_of(4242, {B: "x"}) is None
    assert reader.container_of(os.getpid() + 10 ** 7, {A: "x"}) is None
