"""Shared fixtures for tests that need a running Docker daemon (kept generic)."""

import shutil
import subprocess

import pytest

from gpu_dockerd import gpu_dockerd

# Re-exported: the gpu_dockerd fixture (tests/integration/gpu_dockerd.py) serves every integration test.
__all__ = ["docker_answers", "docker_client", "gpu_dockerd", "image_present"]


def docker_answers(cli=("docker",)):
    if shutil.which(cli[0]) is None:
        return False
    return subprocess.run(list(cli) + ["info"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False).returncode == 0


@pytest.fixture(scope="session")
def docker_client():
    """A Docker SDK client for the host's daemon; skips the test when none answers."""
    docker = pytest.importorskip("docker")
    if not docker_answers():
        pytest.skip("no Docker daemon answers (scripts/dockerd.sh start)")
    client = docker.from_env(version="auto", timeout=120)
    yield client
    client.close()


def image_present(client, ref):
    try:
        client.images.get(ref)
        return True
    except Exception:  # docker.errors.ImageNotFound
        return False
