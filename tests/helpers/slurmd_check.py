"""Debian's real slurmd (`slurmd -G`, no controller, no munge, no service) parsing a gres.conf written by
gpulab.dgx, against character devices made for it (major 195 as the NVIDIA driver's; the MIG access devices
under a major of their own) - the devices are the only stand-ins: slurmd checks a File= exists and is a
character device, it never opens it. `HWLOC_SYNTHETIC` gives hwloc the topology's CPU layout where it is not this
machine's, so slurmd checks Cores= against it."""

import os
import re
import shutil
import subprocess

SLURMD = "/usr/sbin/slurmd"
NVIDIA_MAJOR = 195
CAPS_MAJOR = 237
_GRES = re.compile(r"Gres Name=gpu Type=(\S+) Count=1 Index=\d+ ID=\d+ File=(\S+) Cores=(\S*) ")


def require_slurmd():
    """slurmd is a set-up package (scripts/setup-system.sh); its absence is a failure, not a skip."""
    assert os.access(SLURMD, os.X_OK), "%s is missing: run `make setup` (Debian's slurmd package)" % SLURMD


def make_devices(directory, names_minors, major=NVIDIA_MAJOR):
    """Character devices `name` (major, minor) in `directory`."""
    os.makedirs(str(directory), exist_ok=True)
    for name, minor in names_minors:
        path = os.path.join(str(directory), name)
        if not os.path.exists(path):
            os.mknod(path, 0o600 | 0o020000, os.makedev(major, minor))


def parse(gres_conf, node_line, node_name, workdir, synthetic=None):
    """slurmd -G over `gres_conf` with a slurm.conf of the node alone: ([(type, files, cores)], error lines, all lines)."""
    os.makedirs(str(workdir), exist_ok=True)
    with open(os.path.join(str(workdir), "gres.conf"), "w", encoding="utf-8") as handle:
        handle.write(gres_conf)
    with open(os.path.join(str(workdir), "slurm.conf"), "w", encoding="utf-8") as handle:
        handle.write("ClusterName=check\nSlurmctldHost=localhost\nGresTypes=gpu\nSlurmdSpoolDir=%s\n%s\n"
                     % (os.path.join(str(workdir), "spool"), node_line))
    env = dict(os.environ)
    env.pop("HWLOC_SYNTHETIC", None)
    if synthetic:
        env["HWLOC_SYNTHETIC"] = synthetic
    done = subprocess.run([SLURMD, "-G", "-f", os.path.join(str(workdir), "slurm.conf"), "-N", node_name],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env, timeout=60, check=False)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout
    found = [(m.group(1), m.group(2).split(","), m.group(3)) for m in (_GRES.search(line) for line in lines) if m]
    errors = [line for line in lines if re.search(r"(error|fatal|WARNING):", line)]
    shutil.rmtree(os.path.join(str(workdir), "spool"), ignore_errors=True)
    return found, errors, lines
