"""gpulab.dgx.tenant_metrics against real parts: tenant containers created by the tenant module on the
test dockerds, their real cgroups, Debian's node_exporter (started here on loopback with this test's
textfile directory, stopped at the end; the host's own services are never touched) scraped over HTTP,
and promtool. GPU use comes from a pynvml TEST DOUBLE whose per-process lists hold the host PIDs of
real running tenant containers, so the PID -> container mapping runs on real /proc/<pid>/cgroup files.

What "unchanged" means: the file shows usage (CPU seconds, memory in use, writable layer size), which
moves while a container runs. With the tenants paused (Docker's freezer: no CPU time, no memory
change), nothing the file shows moves, and a second run must leave it byte-identical with its mtime.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from metrics_code import pack
from metrics_helpers import of_tenant, promtool_check, run_metrics, run_through_ansible, samples, nvml_double
from tenant_helpers import IMAGE_V1, PREFIX, ROOT, cpu_topology, create, gpu_topology, remove_test_containers, run_module

pytestmark = [pytest.mark.docker, pytest.mark.slow]
MEMORY = 64 * 1024 * 1024


@pytest.fixture(autouse=True)
def no_test_tenants_before(docker_client):
    remove_test_containers(docker_client)


def names(series):
    return sorted(name for name, _labels in series)


def expect_cpu_tenant(series, tenant, cpus):
    """The exact series of a running CPU-only tenant (no disk limit given, so no disk limit series)."""
    mine = of_tenant(series, tenant["name"])
    assert names(mine) == sorted([
        "gpulab_tenant_info", "gpulab_tenant_cpuset_info", "gpulab_tenant_memory_limit_bytes", "gpulab_tenant_cpus",
        "gpulab_tenant_gpus", "gpulab_tenant_cpu_seconds_total", "gpulab_tenant_memory_used_bytes",
        "gpulab_tenant_disk_used_bytes"]), sorted(mine)
    info = frozenset([("image", IMAGE_V1), ("ssh_port", str(tenant["ssh_port"])), ("numa_nodes", "0" if cpus else "")])
    assert mine[("gpulab_tenant_info", info)] == 1
    assert mine[("gpulab_tenant_cpuset_info", frozenset([("cpuset", tenant["cpuset"])]))] == 1
    assert mine[("gpulab_tenant_memory_limit_bytes", frozenset())] == MEMORY
    assert mine[("gpulab_tenant_cpus", frozenset())] == cpus
    assert mine[("gpulab_tenant_gpus", frozenset())] == 0
    assert mine[("gpulab_tenant_cpu_seconds_total", frozenset())] > 0  # sshd and the entrypoint ran
    assert 0 < mine[("gpulab_tenant_memory_used_bytes", frozenset())] <= MEMORY
    assert mine[("gpulab_tenant_disk_used_bytes", frozenset([("mount", "/")]))] >= 0


def test_series_per_tenant_scraped_checked_and_dropped_on_removal(docker_client, tenant_host, node_exporter, tmp_path):
    args = [tenant_host("m1", cpus=1, memory="64M"), tenant_host("m2", cpus=1, memory="64M"),
            tenant_host("m3", cpus=0, memory="64M")]
    tenants = [create(a) for a in args]
    path = os.path.join(node_exporter.directory, "gpulab.prom")
    metrics_args = {"path": path, "topology": cpu_topology()}

    first = run_through_ansible(metrics_args, tmp_path)
    assert first["changed"] is True and first["tenants"] == 3 and first["file"] == path, first
    assert first["gpu_use"].startswith("unavailable"), first  # no GPU here: no GPU use, no failure
    promtool_check(path)
    with open(path) as handle:
        written = samples(handle.read())
    assert first["series"] == len(written)
    for tenant, cpus in zip(tenants, (1, 1, 0)):
        expect_cpu_tenant(written, tenant, cpus)
    assert set(key[0] for key in written) - set(key[0] for key in of_tenant(written, tenants[0]["name"])) == {
        "gpulab_host_gpus", "gpulab_host_cpus"}
    assert written[("gpulab_host_cpus", frozenset([("state", "held")]))] == 2
    assert written[("gpulab_host_gpus", frozenset([("state", "free")]))] == 0

    scraped = node_exporter.scrape()
    assert samples(scraped) == written  # node_exporter serves the file as written
    assert "node_textfile_scrape_error 0" in scraped

    removed = run_module(dict(args[1], state="absent"))
    assert removed["changed"], removed
    second = run_metrics(metrics_args)
    assert second["changed"] is True and second["tenants"] == 2, second
    promtool_check(path)
    with open(path) as handle:
        after = samples(handle.read())
    assert of_tenant(after, tenants[1]["name"]) == {}
    expect_cpu_tenant(after, tenants[0], 1)
    expect_cpu_tenant(after, tenants[2], 0)
    assert after[("gpulab_host_cpus", frozenset([("state", "held")]))] == 1
    assert of_tenant(samples(node_exporter.scrape()), tenants[1]["name"]) == {}


def test_unchanged_host_leaves_the_file_byte_identical_with_its_mtime(docker_client, tenant_host, tmp_path):
    names_ = [create(tenant_host(n, cpus=1 if n == "u1" else 0, memory="64M"))["name"] for n in ("u1", "u2")]
    path = str(tmp_path / "gpulab.prom")
    metrics_args = {"path": path, "topology": cpu_topology(), "nvml": "never"}
    for name in names_:
        docker_client.containers.get(name).pause()
    try:
        assert run_metrics(metrics_args)["changed"] is True
        with open(path, "rb") as handle:
            before_bytes = handle.read()
        os.utime(path, ns=(1, 1_000_000_000))  # an mtime a rewrite could not reproduce
        before = os.stat(path)
        time.sleep(0.05)
        planned = run_metrics(metrics_args, check=True)
        again = run_metrics(metrics_args)
        assert planned["changed"] is False and again["changed"] is False, (planned, again)
        after = os.stat(path)
        with open(path, "rb") as handle:
            assert handle.read() == before_bytes
        assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    finally:
        for name in names_:
            docker_client.containers.get(name).unpause()
    # Running again, the usage moves: the file shows it (a check-mode run says it would change).
    subprocess.run(["docker", "exec", names_[0], "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"], check=True)
    assert run_metrics(metrics_args, check=True)["changed"] is True


def test_gpu_use_from_nvml_test_double_on_real_cgroups(gpu_host, gpu_containers, tenant_host, tmp_path):
    topology = gpu_topology(8)
    uuid = [g["uuid"] for g in topology["gpus"]]
    ga = create(tenant_host("ga", gpus=2, cpus=1, topology=topology, docker_host=gpu_host.host))
    gb = create(tenant_host("gb", gpus=1, cpus=1, topology=topology, docker_host=gpu_host.host))
    stray = gpu_containers.containers.run(IMAGE_V1, name=PREFIX + "stray", entrypoint=["sleep", "infinity"], detach=True)
    pid = dict((name, gpu_containers.containers.get(name).attrs["State"]["Pid"]) for name in (ga["name"], gb["name"], stray.name))
    assert all(p > 0 for p in pid.values()), pid
    a0, a1 = ga["gpu_indices"]
    (b0,) = gb["gpu_indices"]
    free = [i for i in range(8) if i not in (a0, a1, b0)]
    f, h = free[0], free[1]
    mib = 1024 * 1024
    gpus = [{"uuid": u, "compute": [], "graphics": [], "utilization": []} for u in uuid]
    gpus[a0].update(compute=[[pid[ga["name"]], 1000 * mib]], graphics=[[pid[ga["name"]], 1000 * mib]],
                    utilization=[[pid[ga["name"]], 30, 1], [pid[ga["name"]], 70, 2]])
    gpus[b0].update(compute=[[pid[gb["name"]], 500 * mib], [pid[ga["name"]], 100 * mib]], utilization="not_supported")
    gpus[f].update(compute=[[pid[stray.name], 42 * mib]])  # a container that is no tenant, on a free GPU
    gpus[h].update(compute=[[os.getpid(), 5 * mib]])  # a host process: no container's
    env = nvml_double(str(tmp_path / "nvml-double"), gpus)
    path = str(tmp_path / "gpulab.prom")
    result = run_metrics({"path": path, "topology": topology, "docker_host": gpu_host.host},
                         pythonpath=[str(tmp_path / "nvml-double")], env=env)
    assert result["changed"] and result["gpu_use"] == "read 8 GPUs", result
    promtool_check(path)
    with open(path) as handle:
        series = samples(handle.read())

    def gpu(index):
        return [("gpu", str(index)), ("UUID", uuid[index])]
    mine = of_tenant(series, ga["name"])
    assert mine[("gpulab_tenant_gpus", frozenset())] == 2
    for index in (a0, a1):
        assert mine[("gpulab_tenant_gpu_info", frozenset(gpu(index) + [("numa_node", "0")]))] == 1
    assert dict((k, v) for k, v in mine.items() if k[0] == "gpulab_tenant_gpu_memory_used_bytes") == {
        ("gpulab_tenant_gpu_memory_used_bytes", frozenset(gpu(a0))): 1000 * mib,  # in both lists, counted once
        ("gpulab_tenant_gpu_memory_used_bytes", frozenset(gpu(a1))): 0,
        ("gpulab_tenant_gpu_memory_used_bytes", frozenset(gpu(b0))): 100 * mib}  # on gb's GPU: a leak
    assert dict((k, v) for k, v in mine.items() if k[0] == "gpulab_tenant_gpu_utilization_ratio") == {
        ("gpulab_tenant_gpu_utilization_ratio", frozenset(gpu(a0))): 0.7,  # the latest sample
        ("gpulab_tenant_gpu_utilization_ratio", frozenset(gpu(a1))): 0}  # samples supported, none recent
    theirs = of_tenant(series, gb["name"])
    assert dict((k, v) for k, v in theirs.items() if k[0].startswith("gpulab_tenant_gpu_") and k[0] != "gpulab_tenant_gpu_info") == {
        ("gpulab_tenant_gpu_memory_used_bytes", frozenset(gpu(b0))): 500 * mib}  # no utilization samples on b0
    foreign = dict((dict(labels)["gpu"], value) for (name, labels), value in series.items() if name == "gpulab_gpu_foreign_processes")
    assert foreign == dict((str(i), 1 if i in (b0, f) else 0) for i in range(8)), foreign
    assert series[("gpulab_host_gpus", frozenset([("state", "held")]))] == 3
    assert series[("gpulab_host_gpus", frozenset([("state", "free")]))] == 5
    assert not [k for k in series if ("tenant", stray.name) in k[1]]


def job_files(directory):
    return dict((name, open(os.path.join(directory, name)).read()) for name in sorted(os.listdir(directory)))


def test_job_mapping_follows_real_gpu_tenants_through_module_and_timer_command(gpu_host, gpu_containers, tenant_host, tmp_path):
    """dcgm-exporter's --hpc-job-mapping-dir files from real tenants on the GPU test dockerd (nvidia hook TEST
    DOUBLE): written by the module, then kept by the timer's command (roles/tenant_metrics/files) run from a copy
    of the refresh code as the role lays it out, after a tenant is removed."""
    topology = gpu_topology(8)
    ga = create(tenant_host("ja", gpus=2, cpus=1, topology=topology, docker_host=gpu_host.host))
    gb = create(tenant_host("jb", gpus=1, cpus=0, topology=topology, docker_host=gpu_host.host))
    jobs = tmp_path / "job-mapping"
    jobs.mkdir()
    (jobs / "7").write_text("someone-gone\n")
    (jobs / "notes").write_text("not a GPU's\n")
    args = {"path": str(tmp_path / "gpulab.prom"), "topology": topology, "docker_host": gpu_host.host,
            "nvml": "never", "job_mapping_dir": str(jobs)}
    planned = run_metrics(args, check=True)
    assert planned["changed"] is True and job_files(str(jobs)) == {"7": "someone-gone\n", "notes": "not a GPU's\n"}
    done = run_metrics(args)
    expected = dict((str(i), ga["name"] + "\n") for i in ga["gpu_indices"])
    expected.update((str(i), gb["name"] + "\n") for i in gb["gpu_indices"])
    assert done["job_mapping"] == dict((k, [v.strip()]) for k, v in expected.items()), done
    assert job_files(str(jobs)) == dict(expected, notes="not a GPU's\n")

    removed = run_module(dict(tenant_host("ja", gpus=2, cpus=1, topology=topology, docker_host=gpu_host.host), state="absent"))
    assert removed["changed"], removed
    lib = pack(str(tmp_path / "lib"))
    config = tmp_path / "tenant-metrics.json"
    config.write_text(json.dumps(dict(args, path=str(tmp_path / "timer.prom"))))
    env = dict((k, v) for k, v in os.environ.items() if k != "PYTHONPATH")
    command = [sys.executable, os.path.join(ROOT, "roles", "tenant_metrics", "files", "gpulab-tenant-metrics"), "--lib", lib, str(config)]
    ran = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env, check=False)
    assert ran.returncode == 0 and ran.stderr == "", ran
    assert ran.stdout.startswith("wrote %s: 1 tenants," % (tmp_path / "timer.prom")) and "job mapping: 1 GPUs held" in ran.stdout, ran.stdout
    assert job_files(str(jobs)) == dict(((str(i), gb["name"] + "\n") for i in gb["gpu_indices"]), notes="not a GPU's\n")
    with open(str(tmp_path / "timer.prom")) as handle:
        series = samples(handle.read())
    assert of_tenant(series, ga["name"]) == {} and of_tenant(series, gb["name"])
    promtool_check(str(tmp_path / "timer.prom"))
    again = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env, check=False)
    assert again.returncode == 0 and "job mapping: 1 GPUs held" in again.stdout, again
