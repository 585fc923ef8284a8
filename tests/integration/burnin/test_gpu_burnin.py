"""gpulab.dgx.gpu_burnin end to end on the GPU test dockerd (a real dockerd whose nvidia hook is a TEST DOUBLE),
with the gpu-burn TEST DOUBLE image (it prints gpu-burn's format, FAULTY for chosen UUIDs, and exits 0 as
gpu-burn does) and a pynvml TEST DOUBLE replaying temperatures: the module decides the verdict itself,
stops early on a critical reading naming the GPU, refuses while a tenant holds a GPU, and leaves no
container behind."""
import os
import subprocess

import pytest

from burnin_helpers import RAMP_SECONDS, nvml_double, run_burnin, temperature_calls
from tenant_helpers import create, gpu_topology

pytestmark = [pytest.mark.docker, pytest.mark.slow]

A100 = [85, 89, 92]  # max operating, slowdown, shutdown (NVML thresholds)


def gpus(count=3, temps=None, ecc=None):
    topology = gpu_topology(count)["gpus"]
    return [{"uuid": g["uuid"], "name": "NVIDIA A100-SXM4-80GB", "bus": g["pci_bus_id"], "limits": A100,
             "temps": (temps or {}).get(g["index"], [55, 60, 62]), "ecc": (ecc or {}).get(g["index"], [0, 0])}
            for g in topology]


def burnin_containers(gpu_host):
    out = subprocess.run(gpu_host.cli + ["ps", "-a", "--filter", "label=gpulab.burnin", "--format", "{{.Names}}"],
                         check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    return out.split()


def test_a_faulty_gpu_fails_alone_although_gpu_burn_exits_0(gpu_host, stress_image, tmp_path):
    state = gpus(3)
    image = stress_image([state[1]["uuid"]])
    env = nvml_double(str(tmp_path / "nvml"), state)
    metrics = tmp_path / "textfile" / "gpulab_burnin.prom"
    metrics.parent.mkdir()
    result = run_burnin({"image": image, "seconds": 10, "sample_interval": 1, "docker_host": gpu_host.host,
                         "expected_gpus": 3, "dcgm_levels": [], "metrics_file": str(metrics)},
                        pythonpath=[str(tmp_path / "nvml")], env=env)
    assert result.get("failed") is not True, result
    report = result["report"]
    assert result["verdict"] == "fail" and result["failed_gpus"] == [1], report["gpus"]
    rows = dict((g["index"], g) for g in report["gpus"])
    assert [r for r in rows[1]["reasons"] if "compare errors" in r], rows[1]["reasons"]
    assert rows[0]["verdict"] == rows[2]["verdict"] == "pass"
    assert rows[0]["reasons"] == [] and rows[0]["gflops"] == 18800.0 and rows[0]["samples"] >= 1
    assert rows[0]["max_temp"] <= 62 and rows[0]["limits"]["max_operating"] == 85 and rows[0]["temp_limit"] == 80
    text = metrics.read_text()
    assert 'gpulab_burnin_result{gpu="1",UUID="%s"} 0' % state[1]["uuid"] in text
    assert 'gpulab_burnin_result{gpu="0",UUID="%s"} 1' % state[0]["uuid"] in text
    assert burnin_containers(gpu_host) == []
    # One device request per container, each for its own GPU (the hook double saw them start).
    assert report["mode"] == "each" and report["gpus_seen"] == 3


def test_a_temperature_ramp_stops_the_run_early_and_fails_naming_the_gpu(gpu_host, stress_image, tmp_path):
    state = gpus(3, temps={2: [60, 75, 88, 90]})  # slowdown 89, stop margin 2: 88 stops it
    env = nvml_double(str(tmp_path / "nvml"), state)
    result = run_burnin({"image": stress_image(), "seconds": RAMP_SECONDS, "mode": "all", "sample_interval": 1,
                         "docker_host": gpu_host.host, "dcgm_levels": []}, pythonpath=[str(tmp_path / "nvml")], env=env)
    report = result["report"]
    assert result["verdict"] == "fail" and result["failed_gpus"] == [2], report
    assert report["seconds"] < RAMP_SECONDS
    assert any("GPU 2: 88 C is within 2 C of its slowdown temperature 89 C" in p for p in report["problems"]), report["problems"]
    rows = dict((g["index"], g) for g in report["gpus"])
    assert any("stopped early" in r for r in rows[2]["reasons"]) and rows[2]["max_temp"] == 88
    assert rows[0]["verdict"] == rows[1]["verdict"] == "incomplete"
    assert temperature_calls(env)["temp-2"] == 3  # no sample after the critical one
    assert burnin_containers(gpu_host) == []


def test_grown_ecc_counters_fail_that_gpu(gpu_host, stress_image, tmp_path):
    state = gpus(2, ecc={0: [0, 4]})
    env = nvml_double(str(tmp_path / "nvml"), state)
    result = run_burnin({"image": stress_image(), "seconds": 10, "sample_interval": 1, "docker_host": gpu_host.host,
                         "dcgm_levels": []}, pythonpath=[str(tmp_path / "nvml")], env=env)
    assert result["failed_gpus"] == [0], result["report"]["gpus"]
    assert "volatile_uncorrected 0 -> 4" in result["report"]["gpus"][0]["reasons"][0]


def test_refused_while_a_tenant_holds_a_gpu_unless_only_free_gpus_are_named(gpu_host, gpu_containers, stress_image, tenant_host, tmp_path):
    topology = gpu_topology(3)
    tenant = create(tenant_host("burn", gpus=1, cpus=0, topology=topology, docker_host=gpu_host.host))
    held = tenant["gpu_indices"][0]
    env = nvml_double(str(tmp_path / "nvml"), gpus(3))
    args = {"image": stress_image(), "seconds": 10, "docker_host": gpu_host.host, "dcgm_levels": []}
    refused = run_burnin(args, pythonpath=[str(tmp_path / "nvml")], env=env)
    assert refused["failed"] is True and refused["field"] == "gpus"
    assert "tenants hold GPUs (%d: %s)" % (held, tenant["name"]) in refused["msg"]
    named = run_burnin(dict(args, gpus=[held]), pythonpath=[str(tmp_path / "nvml")], env=env)
    assert named["failed"] is True and "%d (tenant %s)" % (held, tenant["name"]) in named["msg"]
    assert not os.path.exists(env["GPULAB_TEST_NVML_STATE"] + ".calls")  # not one sample taken
    free = sorted(set(range(3)) - {held})
    planned = run_burnin(dict(args, gpus=free), pythonpath=[str(tmp_path / "nvml")], env=env, check=True)
    assert planned["changed"] is False and planned["plan"] == {"gpus": free, "seconds": 10, "mode": "each", "containers": 2}
    assert burnin_containers(gpu_host) == []


@pytest.mark.parametrize("option, value", [
    ("seconds", 5), ("seconds", 10 ** 9), ("mode", "some"), ("gpus", [1, 1]), ("gpus", [-1]), ("dcgm_levels", [5]),
    ("temp_cap", 300), ("sample_interval", 0), ("perf_tolerance", float("nan")), ("metrics_file", "relative.prom"),
    ("command", []), ("image", " "),
])
def test_bad_input_fails_before_anything_runs_naming_the_option(gpu_host, tmp_path, option, value):
    env = nvml_double(str(tmp_path / "nvml"), gpus(2))
    args = {"image": "gpulab-test-burnin/none:0", "seconds": 10, "docker_host": gpu_host.host, "dcgm_levels": []}
    args[option] = value
    result = run_burnin(args, pythonpath=[str(tmp_path / "nvml")], env=env)
    assert result["failed"] is True and option in result["msg"] and "Traceback" not in result["msg"], result
    assert not os.path.exists(env["GPULAB_TEST_NVML_STATE"] + ".calls")
    assert burnin_containers(gpu_host) == []


def test_a_burnin_already_running_is_refused_and_left_alone(gpu_host, stress_image, tmp_path):
    """Another burn-in's container (running, with the label) is neither touched nor joined; a stopped one left by
    a crashed run is removed and said so."""
    image = stress_image()
    subprocess.run(gpu_host.cli + ["run", "-d", "--name", "gpulab-burnin-other", "--label", "gpulab.burnin=other",
                                   image, "sleep", "600"], check=True, stdout=subprocess.DEVNULL)
    try:
        env = nvml_double(str(tmp_path / "nvml"), gpus(2))
        args = {"image": image, "seconds": 10, "sample_interval": 1, "docker_host": gpu_host.host, "dcgm_levels": []}
        refused = run_burnin(args, pythonpath=[str(tmp_path / "nvml")], env=env)
        assert refused["failed"] is True and "another burn-in runs on this host (gpulab-burnin-other)" in refused["msg"]
        assert burnin_containers(gpu_host) == ["gpulab-burnin-other"]
        subprocess.run(gpu_host.cli + ["stop", "-t", "0", "gpulab-burnin-other"], check=True, stdout=subprocess.DEVNULL)
        done = run_burnin(args, pythonpath=[str(tmp_path / "nvml")], env=env)
        assert done["verdict"] == "pass" and done["report"]["notes"] == [
            "removed containers a previous burn-in left: gpulab-burnin-other"], done
        assert burnin_containers(gpu_host) == []
    finally:
        subprocess.run(gpu_host.cli + ["rm", "-f", "gpulab-burnin-other"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


DCGMI_DOUBLE = """#!/bin/sh
# TEST DOUBLE of dcgmi (written by tests/integration/burnin/test_gpu_burnin.py): it is not NVIDIA's DCGM. For
# `dcgmi diag -r N -j -i IDS` it logs its arguments and prints a recorded DCGM 4 answer in which GPU 1 fails.
echo "$@" >> %(log)s
cat %(answer)s
exit 226
"""


def test_dcgm_levels_and_the_in_container_check_fail_their_gpus(gpu_host, stress_image, tmp_path):
    """dcgmi (a TEST DOUBLE on PATH) runs once per level on the GPUs under test and fails GPU 1; the in-container
    check runs once per GPU with that GPU alone (it fails where NVIDIA_VISIBLE_DEVICES is GPU 0's UUID)."""
    state = gpus(2)
    bin_dir, log = tmp_path / "bin", tmp_path / "dcgmi.log"
    bin_dir.mkdir()
    answer = os.path.join(os.path.dirname(__file__), "..", "..", "unit", "fixtures", "burnin", "dcgmi-diag-v4-fail.json")
    (bin_dir / "dcgmi").write_text(DCGMI_DOUBLE % {"log": log, "answer": os.path.abspath(answer)})
    (bin_dir / "dcgmi").chmod(0o755)
    env = nvml_double(str(tmp_path / "nvml"), state)
    image = stress_image()
    result = run_burnin({"image": image, "seconds": 10, "sample_interval": 1, "docker_host": gpu_host.host,
                         "dcgm_levels": [1, 2], "check_image": image,
                         "check_command": ["sh", "-c", 'test "$NVIDIA_VISIBLE_DEVICES" != "%s"' % state[0]["uuid"]]},
                        pythonpath=[str(tmp_path / "nvml")], env=env, path_prefix=str(bin_dir))
    report = result["report"]
    assert result["failed_gpus"] == [0, 1], report["gpus"]
    assert log.read_text().splitlines() == ["diag -r 1 -j -i 0,1", "diag -r 2 -j -i 0,1"]
    rows = dict((g["index"], g) for g in report["gpus"])
    assert "the in-container check failed (exit 1)" in rows[0]["reasons"] and rows[1]["check"]["status"] == 0
    assert "DCGM level 2 fail: memory (Detected 2 uncorrectable DBE errors)" in rows[1]["reasons"]
    assert not [r for r in rows[0]["reasons"] if r.startswith("DCGM")]
    assert [d["level"] for d in report["dcgm"]] == [1, 2] and report["dcgm_installed"] is True
    assert burnin_containers(gpu_host) == []
