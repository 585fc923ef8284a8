"""playbooks/burnin.yml (the gpulab.dgx.gpu_burnin role) end to end through ansible-playbook on this host, with
the stress run on the GPU test dockerd (its nvidia hook is a TEST DOUBLE), the gpu-burn TEST DOUBLE image and the
pynvml TEST DOUBLE (on the modules' PYTHONPATH): the play writes the reports and fails exactly when a GPU fails,
naming it; it stops early on a temperature ramp; it refuses while a tenant holds a GPU, writing nothing."""
import json
import os
import subprocess
import sys

import pytest

from burnin_helpers import RAMP_SECONDS, ROOT, nvml_double
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
                         gpu_burnin_seconds=RAMP_SECONDS, gpu_burnin_mode="all")
    assert done.returncode != 0
    text = " ".join(done.stdout.split())
    assert "stopped early: GPU 2: 88 C is within 2 C of its slowdown temperature 89 C; GPU 2 (report:" in text, done.stdout[-3000:]
    assert json.loads((reports / "localhost.json").read_text())["seconds"] < RAMP_SECONDS


def test_refused_while_a_tenant_holds_a_gpu_and_nothing_is_written(gpu_host, gpu_containers, stress_image, tenant_host, tmp_path):
    tenant = create(tenant_host("burnplay", gpus=1, cpus=0, topology=gpu_topology(3), docker_host=gpu_host.host))
    done, reports = play(tmp_path, gpu_host, stress_image(), gpus(3))
    assert done.returncode != 0
    assert "is empty while tenants hold GPUs (%d: %s)" % (tenant["gpu_indices"][0], tenant["name"]) in done.stdout, done.stdout[-3000:]
    assert not reports.exists()
    assert burnin_containers(gpu_host) == []


MAKE_DOUBLE = """#!/bin/sh
# TEST DOUBLE of make in a stand-in for a CUDA devel image (written by test_burnin_playbook.py): it is not
# nvcc's build of gpu-burn; it installs the gpu-burn TEST DOUBLE shipped in the source archive as gpu_burn.
set -e
cp gpu_burn.double gpu_burn
chmod 755 gpu_burn
"""


def test_gpu_burn_is_built_from_its_source_archive_once_per_version(gpu_host, stress_image, tmp_path):
    """tasks/image.yml for real on the GPU test dockerd: download (a file:// URL with its checksum), unpack, build on
    the base image without a network; the burn-in then runs the built image. A second run finds the image."""
    import hashlib
    import tarfile
    from burnin_helpers import BASE, HERE
    base_ctx = tmp_path / "base"
    base_ctx.mkdir()
    (base_ctx / "make").write_text(MAKE_DOUBLE)
    (base_ctx / "make").chmod(0o755)
    (base_ctx / "Dockerfile").write_text("FROM %s\nCOPY make /usr/local/bin/make\n" % BASE)
    base = "gpulab-test-burnin/cuda-devel-double:1"
    subprocess.run(["docker", "build", "-q", "-t", base, str(base_ctx)], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, DOCKER_BUILDKIT="0"))
    gpu_host.load_image(base)
    source = tmp_path / "gpu-burn-9.9"
    source.mkdir()
    with open(os.path.join(HERE, "gpu_burn_double.py")) as handle:
        (source / "gpu_burn.double").write_text("#!/usr/bin/env python3\n" + handle.read())
    archive = tmp_path / "gpu-burn-9.9.tar.gz"
    with tarfile.open(str(archive), "w:gz") as tar:
        tar.add(str(source), arcname="gpu-burn-9.9")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    image = "gpulab-test-burnin/gpu-burn:test-%s" % digest[:8]
    subprocess.run(gpu_host.cli + ["rmi", "-f", image], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    extra = {"gpu_burnin_build": True, "gpu_burnin_base_image": base, "gpu_burnin_gpu_burn_version": "9.9",
             "gpu_burnin_gpu_burn_url": "file://%s" % archive, "gpu_burnin_gpu_burn_checksum": "sha256:" + digest,
             "gpu_burnin_image": image, "gpu_burnin_command": ["/opt/gpu-burn/gpu_burn", "{seconds}"]}
    try:
        done, reports = play(tmp_path, gpu_host, image, gpus(2), **extra)
        assert done.returncode == 0, done.stdout[-4000:]
        assert "TASK [gpulab.dgx.gpu_burnin : Build the image]" in done.stdout
        labels = subprocess.run(gpu_host.cli + ["image", "inspect", "-f", "{{json .Config.Labels}}", image], check=True,
                                stdout=subprocess.PIPE, universal_newlines=True).stdout
        assert '"gpulab.gpu-burn.version":"9.9"' in labels
        assert json.loads((reports / "localhost.json").read_text())["verdict"] == "pass"
        again, _reports = play(tmp_path, gpu_host, image, gpus(2), **extra)
        assert again.returncode == 0, again.stdout[-3000:]
        build = again.stdout.split("TASK [gpulab.dgx.gpu_burnin : Build the image]")[1].split("TASK [")[0]
        assert "skipping: [localhost]" in build and "changed" not in build, build
    finally:
        subprocess.run(gpu_host.cli + ["rmi", "-f", image], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
