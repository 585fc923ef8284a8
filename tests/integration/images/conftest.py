# -*- coding: utf-8 -*-
"""Fixtures for the tenant image tests: the real dockerd, a per-run name prefix, a runner for
the role's test playbook, and clean-up of exactly what this run created."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import re
import subprocess
import sys
import uuid

import pytest

docker = pytest.importorskip("docker")

from images_support import LOCAL_BASE  # noqa: E402  (after the importorskip above)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


@pytest.fixture(scope="session")
def client():
    try:
        cli = docker.from_env(timeout=300)
        cli.ping()
    except docker.errors.DockerException as exc:
        pytest.skip("no Docker daemon: %s" % exc)
    try:
        cli.images.get(LOCAL_BASE)
    except docker.errors.ImageNotFound:
        pytest.skip("local base image %s missing (make images)" % LOCAL_BASE)
    return cli


@pytest.fixture(scope="session")
def run_id():
    return "gpulab-test-images-" + uuid.uuid4().hex[:8]


class PlaybookResult(object):
    def __init__(self, proc, out):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.out = out
        recap = re.findall(r"localhost\s+: ok=\d+\s+changed=(\d+)", proc.stdout)
        self.changed = int(recap[-1]) if recap else None


@pytest.fixture(scope="session")
def playbook(tmp_path_factory):
    """Run tests/integration/images/playbook.yml with the given variables."""
    work = tmp_path_factory.mktemp("playbook")
    env = dict(os.environ)
    venv_bin = os.path.dirname(sys.executable)
    env.update({
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO, ".collections"),
        "ANSIBLE_ROLES_PATH": os.path.join(REPO, "roles"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    })
    counter = [0]

    def run(extra_vars, check=False):
        counter[0] += 1
        vars_file = work / ("vars-%d.json" % counter[0])
        out_file = work / ("out-%d.json" % counter[0])
        extra = dict(extra_vars, out_file=str(out_file))
        vars_file.write_text(json.dumps(extra))
        cmd = [os.path.join(venv_bin, "ansible-playbook"), "-i", "localhost,",
               os.path.join(HERE, "playbook.yml"), "-e", "@" + str(vars_file)]
        if check:
            cmd.append("--check")
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, timeout=600, check=False)
        out = json.loads(out_file.read_text()) if out_file.exists() else None
        return PlaybookResult(proc, out)

    return run


def _cleanup(client, run_id):
    for container in client.containers.list(all=True, filters={"name": run_id}):
        if container.name.startswith(run_id):
            container.remove(force=True, v=True)
    for container in client.containers.list(all=True, filters={"label": "gpulab.test-run=" + run_id}):
        container.remove(force=True, v=True)
    for network in client.networks.list(names=[run_id]):
        if network.name == run_id:
            network.remove()
    # Our images (every one carries the run label or a tag in the run's repositories), children
    # first: retry until no progress.
    for _attempt in range(10):
        mine = [i for i in client.images.list(all=True)
                if (i.labels or {}).get("gpulab.test-run") == run_id
                or any(t.startswith(run_id) for t in i.tags)]
        if not mine:
            return
        progress = False
        for image in mine:
            for tag in image.tags:
                if tag.startswith(run_id):
                    try:
                        client.images.remove(tag, force=False)
                        progress = True
                    except docker.errors.APIError:
                        pass
            try:
                client.images.remove(image.id, force=False)
                progress = True
            except docker.errors.APIError:
                pass
        if not progress:
            return


@pytest.fixture(scope="session")
def cleanup(client, run_id):
    yield
    _cleanup(client, run_id)
