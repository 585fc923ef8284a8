"""The code gpulab.dgx.tenant_metrics (the role) copies to the host for its timer: the list in
roles/tenant_metrics/vars/main.yml is exactly the import closure of metrics/refresh.py, none of it imports
Ansible, and the entrypoint (roles/tenant_metrics/files/gpulab-tenant-metrics) runs from such a copy with
Ansible out of reach, answering bad input with one line and a non-zero status, never a traceback."""
import json
import os
import re
import subprocess
import sys

import pytest

from metrics_code import pack, role_vars
from shipped_code import NO_ANSIBLE, closure

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
ROLE = os.path.join(ROOT, "roles", "tenant_metrics")
ENTRYPOINT = os.path.join(ROLE, "files", "gpulab-tenant-metrics")


def test_the_role_copies_exactly_the_import_closure_and_its_packages():
    listed = role_vars()["__tenant_metrics_code_files"]
    code = closure("metrics/refresh.py")
    packages = set(os.path.dirname(f) + "/__init__.py" for f in code)
    assert sorted(listed) == sorted(code | packages)
    assert len(listed) == len(set(listed))


def test_no_file_of_the_closure_imports_ansible():
    for rel in closure("metrics/refresh.py"):
        with open(os.path.join(MODULE_UTILS, rel)) as handle:
            text = handle.read()
        assert not re.search(r"^\s*(from|import)\s+ansible(\.|\s)", text, re.M), rel


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """The code packed as the role ships it to the host (tests/helpers/metrics_code.py)."""
    return pack(str(tmp_path_factory.mktemp("lib")))


def entry(lib_dir, *args, **env_extra):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", NO_ANSIBLE, ENTRYPOINT, "--lib", lib_dir] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env,
                          cwd="/", check=False)


def write_config(tmp_path, **options):
    path = tmp_path / "tenant-metrics.json"
    path.write_text(json.dumps(options))
    return str(path)


TOPOLOGY = {"gpus": [], "links": {}, "siblings": [], "numa_nodes": {"0": {"cpus": [0], "distance": {"0": 10}}}}


def one_line(done):
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done
    assert done.stderr.startswith("gpulab-tenant-metrics: "), done.stderr
    return done.stderr


def test_unreachable_docker_is_one_line_naming_docker_host(lib, tmp_path):
    config = write_config(tmp_path, path=str(tmp_path / "g.prom"), topology=TOPOLOGY, nvml="never",
                          docker_host="unix:///nonexistent/docker.sock", job_mapping_dir=str(tmp_path))
    done = entry(lib, config)
    assert done.returncode == 1
    assert "docker_host: 'unix:///nonexistent/docker.sock' cannot be reached" in one_line(done)
    assert not (tmp_path / "g.prom").exists()


@pytest.mark.parametrize("options, named", [
    (dict(path="relative.prom"), "path"),
    (dict(job_mapping_dir="/proc"), "job_mapping_dir"),
    (dict(job_mapping_dir="/nonexistent/jobs"), "job_mapping_dir"),
    (dict(nvml="sometimes"), "nvml"),
    (dict(topology={"gpus": [{"index": "x"}], "numa_nodes": {}}), "topology"),
])
def test_bad_options_are_one_line_naming_the_option(lib, tmp_path, options, named):
    config = dict(path=str(tmp_path / "g.prom"), topology=TOPOLOGY, nvml="never", docker_host="unix:///nonexistent/docker.sock")
    config.update(options)
    done = entry(lib, write_config(tmp_path, **config))
    assert done.returncode == 1
    assert one_line(done).startswith("gpulab-tenant-metrics: %s: " % named), done.stderr


@pytest.mark.parametrize("content, says", [
    (None, "cannot read"), ("{", "is not JSON"), ("[]", "JSON object"), ('{"topology": null}', "topology must be"),
    ('{"topology": {}, "colour": 1}', "unknown option(s) colour"), ('{"topology": {}, "disk_usage": "yes"}', "disk_usage"),
])
def test_a_bad_configuration_file_is_one_line_with_status_2(lib, tmp_path, content, says):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    done = entry(lib, str(path))
    assert done.returncode == 2 and says in one_line(done), done.stderr


def test_missing_code_is_one_line_saying_to_run_the_role(tmp_path):
    done = entry(str(tmp_path / "empty"), write_config(tmp_path, topology=TOPOLOGY))
    assert done.returncode == 2 and "run the gpulab.dgx.tenant_metrics role" in one_line(done)


def test_the_code_comes_from_the_zip_alone_not_another_ansible_collections_on_the_path(lib, tmp_path):
    """A decoy ansible_collections (as an installed Ansible or another copy would put on the path, with a
    refresh module that refuses to load) sits first on PYTHONPATH: the command still runs the zip's code."""
    decoy = tmp_path / "decoy"
    package = decoy / "ansible_collections" / "gpulab" / "dgx" / "plugins" / "module_utils" / "metrics"
    package.mkdir(parents=True)
    for parent in [package] + list(package.parents)[:5]:
        (parent / "__init__.py").write_text("")
    (package / "refresh.py").write_text("raise ImportError('the decoy was imported')\n")
    config = write_config(tmp_path, path=str(tmp_path / "g.prom"), topology=TOPOLOGY, nvml="never",
                          docker_host="unix:///nonexistent/docker.sock")
    done = entry(lib, config, PYTHONPATH=str(decoy))
    assert "decoy" not in done.stderr, done.stderr
    assert done.returncode == 1 and "docker_host: " in one_line(done)
