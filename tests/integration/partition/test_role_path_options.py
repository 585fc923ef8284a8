"""Role gpu_partition refuses, before any change, a path option its boot units could not carry in ExecStart= (a
space splits it, a relative path is not run, '%' and '$' are expanded by systemd), naming the option and the value.
The refusal is the role's first task: the run below reaches no module and no GPU (the layout is never read)."""

import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GOOD = {"gpu_partition_lib_dir": "/usr/local/lib/gpulab", "gpu_partition_boot_config": "/etc/gpulab/mig.json",
        "gpu_partition_python": "/usr/bin/python3"}


def run_role(tmp_path, options):
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local",
             "vars": dict({"ansible_python_interpreter": sys.executable, "gpu_partition_name": "all-1g",
                           "gpu_partition_config": {"version": "v1", "mig-configs": {"all-1g": [{"devices": "all", "mig-enabled": False}]}}},
                          **options),
             "tasks": [{"ansible.builtin.include_role": {"name": "gpulab.dgx.gpu_partition"}}]}]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env, check=False, timeout=300)
    return done.returncode, done.stdout


@pytest.mark.parametrize("option, value", [
    ("gpu_partition_lib_dir", "/opt/gpu lab"), ("gpu_partition_boot_config", "etc/gpulab/mig.json"),
    ("gpu_partition_boot_config", "/etc/gpulab/%h.json"), ("gpu_partition_python", "/opt/py $HOME/python3"),
])
def test_a_path_the_boot_units_cannot_carry_is_refused_naming_it(tmp_path, option, value):
    code, out = run_role(tmp_path, dict(GOOD, **{option: value}))
    assert code != 0 and '%s: \\"%s\\" is not an absolute path' % (option, value) in out, out
    assert "Plan the layout" not in out, out  # refused before the first module
    assert all("%s: " % name not in out for name in GOOD if name != option), out  # the good ones are not named


def test_good_paths_pass_the_check(tmp_path):
    code, out = run_role(tmp_path, GOOD)
    assert "Refuse a path the boot units cannot run or read] ***\nskipping" in out and "Plan the layout" in out, out
