"""gpulab-mig as roles/gpu_partition ships it to a host: its code list (the role's vars), packed into one zip
gpulab-mig.zip in a lib directory, and the command run from it with Ansible and NVML out of reach (the GPUs are
read through the nvidia-smi TEST DOUBLE on PATH)."""
import os
import subprocess
import sys
import zipfile

import yaml

from shipped_code import MODULE_UTILS, NO_ANSIBLE_NO_NVML, ROOT

ROLE = os.path.join(ROOT, "roles", "gpu_partition")
ENTRYPOINT = os.path.join(ROLE, "files", "gpulab-mig")


def code_files():
    with open(os.path.join(ROLE, "vars", "main.yml")) as handle:
        return yaml.safe_load(handle)["__gpu_partition_code_files"]


def pack(lib_dir):
    """Writes <lib_dir>/gpulab-mig.zip from this checkout; returns lib_dir."""
    os.makedirs(lib_dir, exist_ok=True)
    with zipfile.ZipFile(os.path.join(lib_dir, "gpulab-mig.zip"), "w") as archive:
        for rel in code_files():
            archive.write(os.path.join(MODULE_UTILS, rel), rel)
    return lib_dir


def run_command(lib_dir, config_path, *args, env_extra=None):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", NO_ANSIBLE_NO_NVML, ENTRYPOINT, "--lib", lib_dir, "--config", config_path] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env, cwd="/", check=False)
