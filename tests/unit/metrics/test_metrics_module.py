"""gpulab.dgx.tenant_metrics: bad input fails naming the option and the value, never with a traceback
(hypothesis over the argument spec); and the collection end to end over a fake Docker client, a
NVML TEST DOUBLE and a cgroup reader double: the series, foreign processes, host counts, check mode."""
import json

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics import refresh as refresh_mod
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.cgroup import Usage
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.collect import collect
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.gpu import GpuProcess, GpuReading, GpuUse, read_gpu_use
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.render import render
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.series import families
from ansible_collections.gpulab.dgx.plugins.modules import tenant_metrics

FIXTURE_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_named(result, option, value=None):
    assert result["failed"] is True, result
    assert "exception" not in result, result
    assert option in result["msg"], result["msg"]
    if value is not None:
        assert repr(value) in result["msg"] or str(value) in result["msg"], result["msg"]


def test_documentation_matches_the_argument_spec():
    documented = yaml.safe_load(tenant_metrics.DOCUMENTATION)["options"]
    spec = dict(tenant_metrics.ARGUMENT_SPEC)
    spec.pop("docker_host")  # from the gpulab.dgx.docker fragment
    assert set(documented) == set(spec)
    for name, option in spec.items():
        assert documented[name]["type"] == option["type"]
        assert documented[name].get("default") == option.get("default")
        assert documented[name].get("choices") == option.get("choices")


@FIXTURE_SETTINGS
@given(st.text(max_size=40))
def test_any_path_that_is_not_a_prom_file_in_a_directory_is_refused_naming_it(run_module, tmp_path, name):
    assume(not name.endswith(".prom") or "/" in name or name.startswith(".") or "\x00" in name)
    path = str(tmp_path / name) if name and "\x00" not in name else name
    assume(path.strip())
    result = run_module(tenant_metrics, {"path": path, "docker_host": "unix:///nonexistent.sock"})
    assert_named(result, "path")
    assert result.get("field") == "path" or "path" in result["msg"]


@FIXTURE_SETTINGS
@given(st.text(max_size=12).filter(lambda v: v not in ("auto", "never")))
def test_nvml_choices(run_module, tmp_path, value):
    result = run_module(tenant_metrics, {"path": str(tmp_path / "g.prom"), "nvml": value})
    assert_named(result, "nvml")


@FIXTURE_SETTINGS
@given(st.one_of(st.text(max_size=8), st.integers(2, 99)).filter(
    lambda v: str(v).lower() not in ("yes", "no", "true", "false", "on", "off", "1", "0", "y", "n", "t", "f", "1.0", "0.0")))
def test_disk_usage_is_a_bool(run_module, tmp_path, value):
    result = run_module(tenant_metrics, {"path": str(tmp_path / "g.prom"), "disk_usage": value})
    assert_named(result, "disk_usage")


@FIXTURE_SETTINGS
@given(st.one_of(st.integers(), st.lists(st.integers(), min_size=1), st.fixed_dictionaries({"gpus": st.integers()}),
                 st.fixed_dictionaries({"gpus": st.just([{"index": "x"}]), "numa_nodes": st.just({})})))
def test_a_bad_topology_is_refused_naming_it(run_module, tmp_path, value):
    result = run_module(tenant_metrics, {"path": str(tmp_path / "g.prom"), "topology": value, "nvml": "never"})
    assert_named(result, "topology")


def test_unreachable_docker_names_docker_host(run_module, tmp_path):
    topology = {"gpus": [], "links": {}, "siblings": [], "numa_nodes": {"0": {"cpus": [0], "distance": {"0": 10}}}}
    for host in ("unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1", "nonsense://x"):
        result = run_module(tenant_metrics, {"path": str(tmp_path / "g.prom"), "topology": topology, "docker_host": host})
        assert_named(result, "docker_host", host)
        assert not (tmp_path / "g.prom").exists()


# ---- the collection over doubles ------------------------------------------------------------------

IDS = dict((name, (name[0] * 64)) for name in ("alice", "bob", "carl", "stray"))
PIDS = {"alice": 100, "bob": 200, "carl": 300, "stray": 400}
TOPOLOGY = {
    "gpus": [{"index": i, "uuid": "GPU-%d" % i, "numa_node": i // 2, "cpus": [i // 2 * 4 + c for c in range(4)]} for i in range(4)],
    "links": {}, "siblings": [],
    "numa_nodes": {"0": {"cpus": [0, 1, 2, 3], "distance": {"0": 10, "1": 20}},
                   "1": {"cpus": [4, 5, 6, 7], "distance": {"0": 20, "1": 10}}},
}


def attrs(name, gpus, cpuset, mems, running=True, tenant=True):
    labels = {"gpulab.tenant": name, "gpulab.cpuset": cpuset, "gpulab.disk": "1073741824"} if tenant else {}
    return {"Id": IDS[name], "Name": "/" + name, "Image": "sha256:x",
            "State": {"Running": running, "Pid": PIDS[name] if running else 0},
            "Config": {"Labels": labels, "Image": "img/%s:1" % name},
            "HostConfig": {"CpusetCpus": cpuset, "CpusetMems": mems, "Memory": 1 << 30,
                           "PortBindings": {"22/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(2200 + len(name))}]},
                           "DeviceRequests": [{"Driver": "nvidia", "DeviceIDs": gpus}] if gpus else None}}


class FakeApi(object):
    def __init__(self, containers):
        self.by_id = dict((a["Id"], a) for a in containers)
        self.calls = []

    def containers(self, all=False, size=False, filters=None):  # pylint: disable=redefined-builtin
        self.calls.append(("containers", size))
        found = [{"Id": i, "SizeRw": 4096 if size else None} for i, a in self.by_id.items()
                 if not filters or "gpulab.tenant" in a["Config"]["Labels"]]
        return found

    def inspect_container(self, cid):
        self.calls.append(("inspect", cid))
        return self.by_id[cid]


class FakeClient(object):
    def __init__(self, containers):
        self.api = FakeApi(containers)


class FakeCgroups(object):
    """Cgroup reader double: each PID belongs to the container of the same initial."""

    def __init__(self):
        self.usage_calls = 0

    def usage(self, pid, cid):
        self.usage_calls += 1
        return Usage(1.5, 1000)

    def container_of(self, pid, known):
        for name, p in PIDS.items():
            if pid in (p, p + 1) and IDS[name] in known:
                return IDS[name]
        return None


def host():
    return [attrs("alice", ["GPU-0", "GPU-1"], "0-1", "0"), attrs("bob", ["2"], "4", "1"),
            attrs("carl", [], "", "", running=False), attrs("stray", [], "", "", tenant=False)]


def reading(util=True):
    procs = {0: [GpuProcess(100, 1000), GpuProcess(101, 500), GpuProcess(999, 7)],  # alice x2, a host process
             1: [],
             2: [GpuProcess(200, 300), GpuProcess(100, 50)],  # bob, and alice on bob's GPU
             3: [GpuProcess(400, 9)]}  # a non-tenant container on a free GPU
    return GpuReading([GpuUse(i, "GPU-%d" % i, procs[i], ({100: 30, 101: 90} if i == 0 else {}) if util else None)
                       for i in range(4)], True)


def samples(text):
    """The sample lines of an exposition text as comparable (name, sorted labels, value) tuples."""
    parsed = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _brace, labels = head.partition("{")
        pairs = tuple(sorted(tuple(pair.split("=", 1)) for pair in labels.rstrip("}").split(",") if pair))
        parsed.append((name, pairs, value))
    return sorted(parsed)


def test_series_of_a_host():
    client, cgroups = FakeClient(host()), FakeCgroups()
    snapshot = collect(client, TOPOLOGY, reading, cgroups)
    text = render(families(snapshot))
    got = samples(text)
    expected = samples("""gpulab_tenant_info{image="img/alice:1",numa_nodes="0",ssh_port="2205",tenant="alice"} 1
gpulab_tenant_info{image="img/bob:1",numa_nodes="1",ssh_port="2203",tenant="bob"} 1
gpulab_tenant_info{image="img/carl:1",numa_nodes="",ssh_port="2204",tenant="carl"} 1
gpulab_tenant_gpu_info{UUID="GPU-0",gpu="0",numa_node="0",tenant="alice"} 1
gpulab_tenant_gpu_info{UUID="GPU-1",gpu="1",numa_node="0",tenant="alice"} 1
gpulab_tenant_gpu_info{UUID="GPU-2",gpu="2",numa_node="1",tenant="bob"} 1
gpulab_tenant_cpuset_info{cpuset="0-1",tenant="alice"} 1
gpulab_tenant_cpuset_info{cpuset="4",tenant="bob"} 1
gpulab_tenant_cpuset_info{cpuset="",tenant="carl"} 1
gpulab_tenant_memory_limit_bytes{tenant="alice"} 1073741824
gpulab_tenant_memory_limit_bytes{tenant="bob"} 1073741824
gpulab_tenant_memory_limit_bytes{tenant="carl"} 1073741824
gpulab_tenant_cpus{tenant="alice"} 2
gpulab_tenant_cpus{tenant="bob"} 1
gpulab_tenant_cpus{tenant="carl"} 0
gpulab_tenant_disk_limit_bytes{tenant="alice"} 1073741824
gpulab_tenant_disk_limit_bytes{tenant="bob"} 1073741824
gpulab_tenant_disk_limit_bytes{tenant="carl"} 1073741824
gpulab_tenant_gpus{tenant="alice"} 2
gpulab_tenant_gpus{tenant="bob"} 1
gpulab_tenant_gpus{tenant="carl"} 0
gpulab_tenant_gpu_memory_used_bytes{UUID="GPU-0",gpu="0",tenant="alice"} 1500
gpulab_tenant_gpu_memory_used_bytes{UUID="GPU-1",gpu="1",tenant="alice"} 0
gpulab_tenant_gpu_memory_used_bytes{UUID="GPU-2",gpu="2",tenant="alice"} 50
gpulab_tenant_gpu_memory_used_bytes{UUID="GPU-2",gpu="2",tenant="bob"} 300
gpulab_tenant_gpu_utilization_ratio{UUID="GPU-0",gpu="0",tenant="alice"} 1
gpulab_tenant_gpu_utilization_ratio{UUID="GPU-1",gpu="1",tenant="alice"} 0
gpulab_tenant_gpu_utilization_ratio{UUID="GPU-2",gpu="2",tenant="alice"} 0
gpulab_tenant_gpu_utilization_ratio{UUID="GPU-2",gpu="2",tenant="bob"} 0
gpulab_tenant_cpu_seconds_total{tenant="alice"} 1.5
gpulab_tenant_cpu_seconds_total{tenant="bob"} 1.5
gpulab_tenant_memory_used_bytes{tenant="alice"} 1000
gpulab_tenant_memory_used_bytes{tenant="bob"} 1000
gpulab_tenant_disk_used_bytes{mount="/",tenant="alice"} 4096
gpulab_tenant_disk_used_bytes{mount="/",tenant="bob"} 4096
gpulab_tenant_disk_used_bytes{mount="/",tenant="carl"} 4096
gpulab_host_gpus{state="free"} 1
gpulab_host_gpus{state="held"} 3
gpulab_host_gpus{state="shared"} 0
gpulab_host_cpus{state="free"} 5
gpulab_host_cpus{state="held"} 3
gpulab_gpu_foreign_processes{UUID="GPU-0",gpu="0"} 0
gpulab_gpu_foreign_processes{UUID="GPU-1",gpu="1"} 0
gpulab_gpu_foreign_processes{UUID="GPU-2",gpu="2"} 1
gpulab_gpu_foreign_processes{UUID="GPU-3",gpu="3"} 1""")
    assert got == expected, "\n".join(str(s) for s in sorted(set(got) ^ set(expected)))
    # One listing and one inspect per container for the ledger, one listing for the sizes; usage once per running tenant.
    assert client.api.calls.count(("containers", True)) == 1
    assert sum(1 for c in client.api.calls if c[0] == "inspect") == 4
    assert cgroups.usage_calls == 2


def test_without_utilization_samples_there_is_no_ratio_and_without_nvml_no_gpu_use():
    text = render(families(collect(FakeClient(host()), TOPOLOGY, lambda: reading(util=False), FakeCgroups())))
    assert "gpulab_tenant_gpu_memory_used_bytes" in text and "gpulab_tenant_gpu_utilization_ratio" not in text
    off = render(families(collect(FakeClient(host()), TOPOLOGY, lambda: GpuReading([], False, "no"), FakeCgroups(), disk_usage=False)))
    for name in ("gpu_memory_used", "gpu_utilization", "foreign", "disk_used"):
        assert name not in off
    assert "gpulab_tenant_gpu_info" in off  # the allocation does not need NVML


class NvmlDouble(object):
    """TEST DOUBLE of pynvml's per-process calls."""

    class NVMLError(Exception):
        def __init__(self, value):
            super(NvmlDouble.NVMLError, self).__init__("error %d" % value)
            self.value = value

    NVML_ERROR_NOT_FOUND = 6

    class Info(object):
        def __init__(self, **kw):
            self.__dict__.update(kw)

    def __init__(self, fail_init=False):
        self.fail_init = fail_init
        self.shut = False

    def nvmlInit(self):
        if self.fail_init:
            raise self.NVMLError(9)

    def nvmlShutdown(self):
        self.shut = True

    def nvmlDeviceGetCount(self):
        return 3

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetUUID(self, h):
        return b"GPU-%d" % h

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        return [self.Info(pid=10 + h, usedGpuMemory=100), self.Info(pid=20, usedGpuMemory=None)]

    def nvmlDeviceGetGraphicsRunningProcesses(self, h):
        return [self.Info(pid=10 + h, usedGpuMemory=300), self.Info(pid=30, usedGpuMemory=(1 << 64) - 1)]

    def nvmlDeviceGetProcessUtilization(self, h, since):
        if h == 1:
            raise self.NVMLError(6)  # no recent samples
        if h == 2:
            raise self.NVMLError(3)  # not supported
        return [self.Info(pid=10, timeStamp=1, smUtil=5), self.Info(pid=10, timeStamp=2, smUtil=40)]


def test_nvml_reading():
    nvml = NvmlDouble()
    got = read_gpu_use(nvml)
    assert got.available and nvml.shut and got.status == "read 3 GPUs"
    first = got.gpus[0]
    assert first.uuid == "GPU-0" and [(p.pid, p.used_memory) for p in first.processes] == [(10, 300), (20, None), (30, None)]
    assert first.utilization == {10: 40}
    assert got.gpus[1].utilization == {} and got.gpus[2].utilization is None
    down = read_gpu_use(NvmlDouble(fail_init=True))
    assert not down.available and "NVML could not start" in down.status


def test_check_mode_reports_the_change_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(refresh_mod, "connect", lambda base_url, timeout: type("C", (FakeClient,), {"close": lambda self: None})(host()))
    monkeypatch.setattr(refresh_mod, "CgroupReader", FakeCgroups)
    target = tmp_path / "gpulab.prom"
    params = {"path": str(target), "topology": TOPOLOGY, "nvml": "never", "disk_usage": True, "docker_host": None}
    planned = refresh_mod.refresh(params, True, lambda nvml: TOPOLOGY)
    assert planned["changed"] is True and not target.exists()
    done = refresh_mod.refresh(params, False, lambda nvml: TOPOLOGY)
    assert done["changed"] is True and done["tenants"] == 3 and done["series"] == len(samples(target.read_text()))
    assert "unavailable" in done["gpu_use"]
    again = refresh_mod.refresh(params, True, lambda nvml: TOPOLOGY)
    assert again["changed"] is False
    assert json.dumps(again)  # JSON-able, as Ansible returns it


@pytest.mark.parametrize("mode", ["auto", "never"])
def test_nvml_never_gives_topology_readers_a_stand_in_that_does_not_start(mode, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(refresh_mod, "connect", lambda base_url, timeout: type("C", (FakeClient,), {"close": lambda self: None})([]))
    monkeypatch.setattr(refresh_mod, "read_gpu_use", lambda nvml: GpuReading([], False, "double"))
    params = {"path": str(tmp_path / "g.prom"), "topology": None, "nvml": mode, "disk_usage": False, "docker_host": None}
    refresh_mod.refresh(params, True, lambda nvml: seen.append(nvml) or TOPOLOGY)
    assert isinstance(seen[0], refresh_mod.NvmlOff) == (mode == "never")


@FIXTURE_SETTINGS
@given(st.one_of(st.text(max_size=30).filter(lambda v: v and not v.startswith("/")),
                 st.sampled_from(["/", "/proc", "/proc/1", "/sys/fs", "/dev", "/dev/shm", "/nonexistent/gpulab-jobs"]),
                 st.text(alphabet="abc/\x00", min_size=1, max_size=8).map(lambda v: "/" + v).filter(lambda v: "\x00" in v)))
def test_a_job_mapping_dir_that_is_no_usable_directory_is_refused_before_anything_is_written(run_module, tmp_path, value):
    target = tmp_path / "g.prom"
    result = run_module(tenant_metrics, {"path": str(target), "job_mapping_dir": value, "nvml": "never",
                                         "topology": TOPOLOGY, "docker_host": "unix:///nonexistent.sock"})
    assert_named(result, "job_mapping_dir")
    assert result.get("field") == "job_mapping_dir"
    assert not target.exists()


def test_a_job_mapping_dir_that_is_a_file_is_refused(run_module, tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("x")
    result = run_module(tenant_metrics, {"path": str(tmp_path / "g.prom"), "job_mapping_dir": str(plain), "nvml": "never",
                                         "topology": TOPOLOGY, "docker_host": "unix:///nonexistent.sock"})
    assert_named(result, "job_mapping_dir", str(plain))


def test_job_mapping_follows_the_ledger_and_check_mode_writes_nothing(tmp_path, monkeypatch):
    containers = host()
    monkeypatch.setattr(refresh_mod, "connect", lambda base_url, timeout: type("C", (FakeClient,), {"close": lambda self: None})(containers))
    monkeypatch.setattr(refresh_mod, "CgroupReader", FakeCgroups)
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "3").write_text("gone\n")  # a GPU no tenant holds any more
    (jobs / "notes.txt").write_text("kept")  # not a GPU index: never touched
    params = {"path": str(tmp_path / "gpulab.prom"), "topology": TOPOLOGY, "nvml": "never", "disk_usage": False,
              "docker_host": None, "job_mapping_dir": str(jobs)}
    planned = refresh_mod.refresh(params, True, lambda nvml: TOPOLOGY)
    assert planned["changed"] is True and planned["job_mapping"] == {"0": ["alice"], "1": ["alice"], "2": ["bob"]}
    assert sorted(p.name for p in jobs.iterdir()) == ["3", "notes.txt"]
    done = refresh_mod.refresh(params, False, lambda nvml: TOPOLOGY)
    assert done["changed"] is True
    assert dict((p.name, p.read_text()) for p in jobs.iterdir()) == {
        "0": "alice\n", "1": "alice\n", "2": "bob\n", "notes.txt": "kept"}
    assert refresh_mod.refresh(params, True, lambda nvml: TOPOLOGY)["changed"] is False
    containers[:] = [c for c in containers if c["Config"]["Labels"].get("gpulab.tenant") != "alice"]
    again = refresh_mod.refresh(params, False, lambda nvml: TOPOLOGY)
    assert again["changed"] is True and again["job_mapping"] == {"2": ["bob"]}
    assert sorted(p.name for p in jobs.iterdir()) == ["2", "notes.txt"]
    params["job_mapping_dir"] = ""
    assert "job_mapping" not in refresh_mod.refresh(params, False, lambda nvml: TOPOLOGY)


class FakeFiles(object):
    """TenantFiles double: data quota use by directory, last login by container PID; the calls it got."""

    def __init__(self, used, logins):
        self.used, self.logins, self.calls = used, logins, []

    def data_used(self, path, limit):
        self.calls.append(("data", path, limit))
        return self.used.get(path)

    def last_login(self, pid):
        self.calls.append(("login", pid))
        return self.logins.get(pid)


def with_data(record, directory, mount, project="1196425217"):
    record["Config"]["Labels"].update({"gpulab.data-dir": directory, "gpulab.quota-project": project} if project else
                                      {"gpulab.data-dir": directory})
    record["Mounts"] = [{"Type": "bind", "Source": directory, "Destination": mount}]
    return record


def test_data_quota_use_by_the_tenants_own_data_mount_and_last_login():
    """The data directory's use is read only for tenants with a quota project and labelled with where the
    tenant mounts it; a last login only for running containers; none of it without a reader."""
    containers = host()
    with_data(containers[0], "/srv/tenants/alice", "/data")
    with_data(containers[1], "/srv/tenants/bob", "/work")
    with_data(containers[2], "/srv/tenants/carl", "/data", project=None)
    files = FakeFiles({"/srv/tenants/alice": 3 << 20, "/srv/tenants/bob": 0, "/srv/tenants/carl": 99},
                      {PIDS["alice"]: 1700000000})
    got = samples(render(families(collect(FakeClient(containers), TOPOLOGY, reading, FakeCgroups(), files=files))))
    assert [s for s in got if s[0] in ("gpulab_tenant_disk_used_bytes", "gpulab_tenant_last_login_timestamp_seconds")] == sorted([
        ("gpulab_tenant_disk_used_bytes", (("mount", '"/"'), ("tenant", '"alice"')), "4096"),
        ("gpulab_tenant_disk_used_bytes", (("mount", '"/"'), ("tenant", '"bob"')), "4096"),
        ("gpulab_tenant_disk_used_bytes", (("mount", '"/"'), ("tenant", '"carl"')), "4096"),
        ("gpulab_tenant_disk_used_bytes", (("mount", '"/data"'), ("tenant", '"alice"')), str(3 << 20)),
        ("gpulab_tenant_disk_used_bytes", (("mount", '"/work"'), ("tenant", '"bob"')), "0"),
        ("gpulab_tenant_last_login_timestamp_seconds", (("tenant", '"alice"'),), "1700000000"),
    ])
    assert ("data", "/srv/tenants/alice", 1073741824) in files.calls
    assert not [c for c in files.calls if c[0] == "data" and c[1] == "/srv/tenants/carl"]
    assert sorted(c[1] for c in files.calls if c[0] == "login") == sorted([PIDS["alice"], PIDS["bob"]])
    plain = render(families(collect(FakeClient(host()), TOPOLOGY, reading, FakeCgroups())))
    assert 'mount="/data"' not in plain and "last_login" not in plain
