"""gpulab-mig, the boot command gpulab.dgx.gpu_partition installs: the role's code list is exactly the import closure
of partition/boot.py and none of it imports Ansible; the command runs from such a zip with Ansible out of reach,
answers bad input with one line and status 2 (never a traceback), and `restore` on the nvidia-smi MIG TEST DOUBLE
creates a rebooted host's instances again without touching a GPU whose state differs otherwise."""
import json
import os
import re
import sys

import pytest

from boot_command import MODULE_UTILS, ROOT, code_files, pack, run_command
from shipped_code import closure

DOUBLE = os.path.join(ROOT, "tests", "helpers", "nvidia_smi_mig_double.py")
LAYOUTS = {"version": "v1", "mig-configs": {
    "students": [{"devices": [0], "mig-enabled": False},
                 {"devices": [1, 2], "mig-enabled": True, "mig-devices": {"1g.10gb": 3, "3g.40gb": 1}}]}}


def test_the_role_ships_exactly_the_import_closure_without_ansible():
    code = closure("partition/boot.py")
    packages = set(os.path.dirname(f) + "/__init__.py" for f in code)
    assert sorted(code_files()) == sorted(code | packages)
    for rel in code:
        with open(os.path.join(MODULE_UTILS, rel)) as handle:
            assert not re.search(r"^\s*(from|import)\s+ansible(\.|\s)", handle.read(), re.M), rel


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """The code packed as the role ships it (gpulab-mig.zip)."""
    return pack(str(tmp_path_factory.mktemp("lib")))


@pytest.fixture
def double(tmp_path):
    """The nvidia-smi MIG TEST DOUBLE on PATH, three A100-SXM4-80GB after a reboot: GPU 0 MIG off, GPUs 1 and 2
    MIG on without instances; the state file's path."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    with open(DOUBLE) as source:
        (bindir / "nvidia-smi").write_text("#!%s\n%s" % (sys.executable, source.read()))
    (bindir / "nvidia-smi").chmod(0o755)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({
        "gpus": [{"index": i, "uuid": "GPU-%08d-0000-4000-8000-000000000000" % i, "name": "NVIDIA A100-SXM4-80GB",
                  "pci": "00000000:%02X:00.0" % (7 + i), "memory_mib": 81920, "mig": i > 0, "instances": []}
                 for i in range(3)],
        "profiles": ["1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"], "cpus": "0", "numa": "0"}))
    return str(bindir), str(state)


def entry(lib_dir, config_path, *args, env_extra=None):
    return run_command(lib_dir, config_path, *args, env_extra=env_extra)


def write(tmp_path, **options):
    path = tmp_path / "mig.json"
    path.write_text(json.dumps(options))
    return str(path)


def one_line(done):
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done
    assert done.stderr.startswith("gpulab-mig: "), done.stderr
    return done.stderr


@pytest.mark.parametrize("content, args, says", [
    (None, ["restore"], "cannot read"), ("{", ["restore"], "is not JSON"), ("[]", ["restore"], "JSON object"),
    ('{"config": null, "name": "x"}', ["restore"], "config must be the layouts"),
    ('{"config": {}, "name": ""}', ["restore"], "name must name one of the layouts"),
    ('{"config": {}, "name": "x", "colour": 1}', ["restore"], "unknown option(s) colour"),
    ('{"config": {}, "name": "x", "docker_host": 5}', ["remap"], "docker_host must be a string"),
    ('{"config": {}, "name": "x"}', [], "restore or remap?"),
    ('{"config": {}, "name": "x"}', ["restore", "remap"], "unexpected argument 'remap'"),
    ('{"config": {}, "name": "x"}', ["--force", "restore"], "unexpected argument '--force'"),
])
def test_a_bad_command_line_or_configuration_is_one_line_with_status_2(lib, tmp_path, content, args, says):
    path = tmp_path / "mig.json"
    if content is not None:
        path.write_text(content)
    done = entry(lib, str(path), *args)
    assert done.returncode == 2 and says in one_line(done), done.stderr


def test_missing_code_is_one_line_saying_to_run_the_role(tmp_path):
    done = entry(str(tmp_path / "empty"), write(tmp_path, config=LAYOUTS, name="students"), "restore")
    assert done.returncode == 2 and "run the gpulab.dgx.gpu_partition role" in one_line(done)


def test_restore_creates_a_rebooted_hosts_instances_again_and_nothing_else(lib, tmp_path, double):
    bindir, state_path = double
    env = {"PATH": bindir + os.pathsep + os.environ["PATH"], "GPULAB_NVIDIA_SMI_DOUBLE_STATE": state_path}
    config = write(tmp_path, config=LAYOUTS, name="students")

    planned = entry(lib, config, "--check", "restore", env_extra=env)
    assert planned.returncode == 0, planned
    assert planned.stdout.count("would create again: nvidia-smi mig -i") == 2
    with open(state_path) as handle:
        assert not [c for c in json.load(handle).get("calls", []) if c[:1] == ["mig"]]  # --check changes nothing

    done = entry(lib, config, "restore", env_extra=env)
    assert done.returncode == 0 and done.stderr == "", done
    with open(state_path) as handle:
        state = json.load(handle)
    for gpu in state["gpus"][1:]:
        assert sorted(i["profile"] for i in gpu["instances"]) == ["1g.10gb"] * 3 + ["3g.40gb"]
    assert state["gpus"][0]["mig"] is False and state["gpus"][0]["instances"] == []
    assert not [c for c in state["calls"] if "-mig" in c or "-dgi" in c or "-dci" in c]

    again = entry(lib, config, "restore", env_extra=env)
    assert again.returncode == 0 and "every GPU is as layout students says" in again.stdout


def test_restore_leaves_a_gpu_that_differs_otherwise_and_says_so(lib, tmp_path, double):
    bindir, state_path = double
    env = {"PATH": bindir + os.pathsep + os.environ["PATH"], "GPULAB_NVIDIA_SMI_DOUBLE_STATE": state_path}
    layouts = {"version": "v1", "mig-configs": {"other": [{"devices": "all", "mig-enabled": True, "mig-devices": {"7g.80gb": 1}}]}}
    done = entry(lib, write(tmp_path, config=layouts, name="other"), "restore", env_extra=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "GPU 0 is {'mig_enabled': False, 'mig_devices': {}}" in done.stdout and "left for playbooks/partition.yml" in done.stdout
    with open(state_path) as handle:
        state = json.load(handle)
    assert state["gpus"][0]["mig"] is False  # no mode change at boot
    assert [len(g["instances"]) for g in state["gpus"]] == [0, 1, 1]  # the GPUs already in MIG mode got theirs
