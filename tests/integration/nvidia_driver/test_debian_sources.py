"""gpulab.dgx.nvidia_driver's Debian sources: deb822 files written by ansible.builtin.deb822_repository
(after installing python3-debian), which apt reads and fetches from Debian's real archive. Run in a
throwaway container of the base image on a bridge network of the test's own, through the
community.docker.docker connection; nothing on the host changes. Check mode first, then the real
run, then a second run that changes nothing."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PLAYBOOK = "tests/integration/nvidia_driver/playbooks/sources.yml"

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def box(docker_client):
    name = "gpulab-test-sources-%s" % uuid.uuid4().hex[:8]
    network = docker_client.networks.create(name, driver="bridge")
    container = docker_client.containers.run("gpulab/debian12:latest", ["sleep", "infinity"], detach=True,
                                             name=name, network=name)
    yield container
    container.remove(force=True)
    network.remove()


def play(container, *extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", f"{container.name},", "-c", "community.docker.docker", PLAYBOOK,
         "-e", "ansible_python_interpreter=/usr/bin/python3", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)


def sh(container, command):
    code, out = container.exec_run(["sh", "-c", command])
    return code, out.decode()


def test_check_mode_reports_and_writes_nothing(box):
    result = play(box, "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Would add contrib non-free non-free-firmware of http://deb.debian.org/debian" in result.stdout
    assert sh(box, "ls /etc/apt/sources.list.d/")[1].strip() == ""
    assert sh(box, "dpkg-query -W python3-debian")[0] != 0


def test_sources_are_written_as_deb822_and_apt_fetches_them(box):
    result = play(box)
    assert result.returncode == 0, result.stdout + result.stderr
    code, main = sh(box, "cat /etc/apt/sources.list.d/gpulab-nvidia-driver.sources")
    assert code == 0, main
    fields = dict(line.split(": ", 1) for line in main.splitlines() if ": " in line)
    assert fields["Types"] == "deb" and fields["URIs"] == "http://deb.debian.org/debian"
    assert fields["Suites"] == "bookworm bookworm-updates"
    assert fields["Components"] == "contrib non-free non-free-firmware"
    code, security = sh(box, "cat /etc/apt/sources.list.d/gpulab-nvidia-driver-security.sources")
    assert code == 0 and "Suites: bookworm-security" in security, security
    # apt reads both files and fetches their non-free indexes from the archive.
    code, out = sh(box, "apt-get update -q >/dev/null && apt-cache policy nvidia-driver")
    assert code == 0 and "non-free" in out and "Candidate: (none)" not in out, out


def test_second_run_changes_nothing(box):
    result = play(box)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed=0" in result.stdout, result.stdout
