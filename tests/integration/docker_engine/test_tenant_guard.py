"""The guard that keeps Docker from being restarted (or its packages changed) under running
tenants fails closed: a Docker API that cannot answer stops the play with the reason; it is
never read as "no tenants". Run through ansible-playbook against the host's real dockerd."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PLAYBOOK = "tests/integration/docker_engine/playbooks/tenant_guard.yml"

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def run_guard(**env_over):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.update(env_over)
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", PLAYBOOK,
         "-e", f"ansible_python_interpreter={sys.executable}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def running_tenant(docker_client):
    # The base image `make setup` builds (scripts/build-base-images.sh).
    container = docker_client.containers.run("gpulab/debian12:latest", ["sleep", "infinity"], detach=True,
                                             name="gpulab-test-guard-tenant", network_mode="none",
                                             labels={"gpulab.tenant": "gpulab-test-guard-tenant"})
    yield container.name
    container.remove(force=True)


def test_guard_lists_a_running_tenant(running_tenant):
    result = run_guard()
    assert result.returncode == 0, result.stdout + result.stderr
    assert running_tenant in result.stdout


def test_guard_stops_when_docker_cannot_answer(running_tenant, tmp_path):
    result = run_guard(DOCKER_HOST="unix://%s/no-such.sock" % tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "Could not tell whether tenant containers run" in out and "tenants=" not in out


def test_a_host_without_docker_has_no_tenants(tmp_path):
    # A PATH holding every command of this host but the docker CLI: a fresh host before Docker.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for name in os.listdir(directory) if os.path.isdir(directory) else []:
            if name != "docker" and not (bin_dir / name).exists():
                (bin_dir / name).symlink_to(os.path.join(directory, name))
    # No Docker answers either: the missing CLI, not an empty answer, is what makes it "no tenants".
    result = run_guard(PATH=f"{BIN}{os.pathsep}{bin_dir}", DOCKER_HOST="unix://%s/no-such.sock" % tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tenants=[]" in result.stdout
