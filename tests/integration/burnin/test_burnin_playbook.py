"""playbooks/burnin.yml (the gpulab.dgx.gpu_burnin role) end to end through ansible-playbook on this host, with
the stress run on the GPU test dockerd (its nvidia hook is a TEST DOUBLE), the gpu-burn TEST DOUBLE image and the
pynvml TEST DOUBLE (on the modules' PYTHONPATH): the play writes the reports and fails exactly when a GPU fails,
naming it; it stops early on a temperature ramp; it refuses while a tenant holds a GPU, writing nothing."""
import json
import os
import subprocess
import sys

import pytest

from burnin_helpers import ROOT, nvml_double
from tenant_helpers import create, gpu_topology
from test_gpu_burnin import burnin_containers, gpus

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def play(tmp_path, gpu_host, image, state, **extra):
    reports = tmp_path / "reports"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               PYTHONPATH=str(tmp_path / "nvml"), **nvml_double(str(tmp_path / "nvml"), state))
    variables = {"gpulab_hosts": "localhost", "ansible_become": False, "ansible_python_interpreter": sys.executable,
                 "gpu_burnin_build": False, "gpu_burnin_image": image, "gpu_burnin_command": ["gpu_burn", "{seconds}"],
                 "gpu_burnin_seconds": 10, "gpu_burnin_sample_interval": 1, "gpu_burnin_poll": 1,
                 "gpu_burnin_dcgm_levels": [], "gpu_burnin_docker_host": gpu_host.host,
                 "gpu_burnin_report_dir": str(reports), "gpu_burnin_metrics_file": str(tmp_path / "textfile" / "gpulab_burnin.prom")}
    variables.update(extra)
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    done = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", "@" + str(tmp_path / "vars.json"),
                           os.path.join(ROOT, "playbooks", "burnin.yml")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, universal_newlines=True, check=False)
    return done, reports


def test_the_play_writes_the_reports_and_fails_naming_the_faulty_gpu(gpu_host, stress_image, tmp_path):
    state = gpus(3)
    done, reports = play(tmp_path, gpu_host, stress_image([state[1]["uuid"]]), state, gpu_burnin_expected_gpus=3)
    assert done.returncode != 0, done.stdout[-3000:]
    assert "GPU burn-in failed on localhost: GPU 1 (report: %s/localhost.md)" % reports in " ".join(done.stdout.split()), done.stdout[-3000:]
    report = json.loads((reports / "localhost.json").read_text())
    assert report["verdict"] == "fail" and report["failed_gpus"] == [1]
    markdown = (reports / "localhost.md").read_text()
    assert markdown.startswith("# GPU burn-in of localhost: FAIL") and "GPU 1 **fails**: compare errors" in markdown
    fleet = json.loads((reports / "fleet.json").read_text())
    assert fleet["hosts"] == {"localhost": "fail"} and [f["gpu"] for f in fleet["failed"]] == [1]
    assert (reports / "fleet.md").read_text().startswith("# GPU burn-in of the fleet: FAIL")
    assert burnin_containers(gpu_host) == []


def test_a_healthy_host_passes(gpu_host, stress_image, tmp_path):
    done, reports = play(tmp_path, gpu_host, stress_image(), gpus(2))
    assert done.returncode == 0, done.stdout[-3000:]
    assert json.loads((reports / "localhost.json").read_text())["verdict"] == "pass"


def test_a_temperature_ramp_stops_the_play_early_naming_the_gpu(gpu_host, stress_image, tmp_path):
    done, reports = play(tmp_path, gpu_host, stress_image(), gpus(3, temps={2: [60, 75, 88, 90]}),
                         gpu_burnin_seconds=60, gpu_burnin_mode="all")
    assert done.returncode != 0
    text = " ".join(done.stdout.split())
    assert "stopped early: GPU 2: 88 C is within 2 C of its slowdown temperature 89 C; GPU 2 (report:" in text, done.stdout[-3000:]
    assert json.loads((reports / "localhost.json").read_text())["seconds"] < 60


def test_refused_while_a_tenant_holds_a_gpu_and_nothing_is_written(gpu_host, gpu_containers, stress_image, tenant_host, tmp_path):
    tenant = create(tenant_host("burnplay", gpus=1, cpus=0, topology=gpu_topology(3), docker_host=gpu_host.host))
    done, reports = play(tmp_path, gpu_host, stress_image(), gpus(3))
    assert done.returncode != 0
    assert "is empty while tenants hold GPUs (%d: %s)" % (tenant["gpu_indices"][0], tenant["name"]) in done.stdout, done.stdout[-3000:]
    assert not reports.exists()
    assert burnin_containers(gpu_host) == []
