"""Helpers for the end-to-end suite: drive the fresh-DGX test-bed VM (scripts/vm/) over SSH and Ansible.

The VM is a Debian 12 guest under qemu (TCG) with four blank NVMe drives and two NUMA nodes;
see docs/testbed.md. Nothing here fakes the guest: commands run in it over SSH, playbooks run
against it through the inventory scripts/vm/boot.sh writes.
"""
import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VM_SCRIPTS = REPO / "scripts" / "vm"
HOST = "gpulab-dgx-vm"
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)", re.M)


BASE_IMAGE = "gpulab/debian12:latest"  # made by `make setup` on the controller, loaded into the VM
TENANT_IMAGE = "gpulab/tenant:debian12"  # built in the VM by images.yml (inventories/vm/tenant-images.yml)


def tenant_specs(pubkey):
    return [
        {"name": "alice", "image": TENANT_IMAGE, "gpus": 2, "cpus": 1, "memory": "384M", "disk": "300M",
         "ssh_public_keys": [pubkey]},
        {"name": "bob", "image": TENANT_IMAGE, "gpus": 4, "cpus": 2, "memory": "384M", "disk": "300M",
         "ssh_public_keys": [pubkey]},
        {"name": "carol", "image": TENANT_IMAGE, "gpus": 0, "cpus": 1, "memory": "256M", "disk": "200M",
         "ssh_public_keys": [pubkey]},
    ]


class PlaybookResult:
    def __init__(self, name, rc, output, seconds, log, tasks=None):
        self.name, self.rc, self.output, self.seconds, self.log = name, rc, output, seconds, log
        # Task results counted by callback_plugins/task_results.py: results, on_host, by_role, ...
        self.tasks = tasks or {}
        self.recap = {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
                      for m in RECAP.finditer(output)}

    @property
    def changed(self):
        return self.recap.get(HOST, {}).get("changed")

    def tail(self, lines=60):
        return "\n".join(self.output.splitlines()[-lines:])


class TestBed:
    """A booted test-bed VM: its run directory, SSH, Ansible and timings."""

    def __init__(self, run_dir):
        self.run = Path(run_dir)
        self.inventory = self.run / "inventory"
        self.ssh_config = self.run / "ssh_config"
        self.logs = self.run / "logs"
        self.logs.mkdir(exist_ok=True)
        self.timings = {}

    # --- guest commands
    def ssh(self, command, check=True, sudo=True, timeout=600):
        """Run a shell command in the guest (as root by default); returns CompletedProcess."""
        remote = "sudo bash -c " + shlex.quote(command) if sudo else command
        proc = subprocess.run(["ssh", "-F", str(self.ssh_config), "-o", "BatchMode=yes", HOST, remote],
                              capture_output=True, timeout=timeout, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"guest command failed ({proc.returncode}): {command}\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def out(self, command, **kw):
        return self.ssh(command, **kw).stdout.strip()

    def docker_json(self, *args):
        return json.loads(self.out("docker " + " ".join(shlex.quote(a) for a in args)))

    def boot_id(self):
        return self.out("cat /proc/sys/kernel/random/boot_id", sudo=False)

    def reboot(self, timeout=600):
        old = self.boot_id()
        start = time.monotonic()
        self.ssh("systemctl reboot", check=False)
        subprocess.run([str(VM_SCRIPTS / "wait-ssh.sh"), str(self.run), str(timeout), old], check=True)
        self.timings["reboot to SSH"] = time.monotonic() - start

    # --- Ansible
    def env(self):
        env = dict(os.environ)
        env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".collections"))
        env.setdefault("ANSIBLE_ROLES_PATH", str(REPO / "roles"))
        env.update({"ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False",
                    # As docs/day1.md recommends: one SSH exchange per task instead of four.
                    "ANSIBLE_PIPELINING": "True",
                    "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks,task_results",
                    "ANSIBLE_CALLBACK_PLUGINS": str(Path(__file__).parent / "callback_plugins")})
        return env

    def playbook(self, playbook, *args, extra_vars=None, name=None, timeout=1800):
        """Run a playbook of the collection against the VM; the output is kept under logs/."""
        name = name or Path(playbook).stem
        # Play hosts are templated from extra vars only: name the VM's group there.
        cmd = ["ansible-playbook", "-i", str(self.inventory), "-e", "gpulab_hosts=dgx",
               str(REPO / "playbooks" / playbook)]
        if extra_vars:
            path = self.logs / f"{name}.vars.json"
            path.write_text(json.dumps(extra_vars, indent=2))
            cmd += ["-e", f"@{path}"]
        cmd += list(args)
        log = self.logs / f"{name}.log"
        counts = self.logs / f"{name}.tasks.json"  # callback_plugins/task_results.py
        counts.unlink(missing_ok=True)
        env = dict(self.env(), GPULAB_TASK_RESULTS_FILE=str(counts))
        start = time.monotonic()
        with open(log, "w") as f:  # streamed, so a running playbook can be followed with tail -f
            f.write(" ".join(shlex.quote(c) for c in cmd) + "\n\n")
            f.flush()
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                  timeout=timeout, check=False)
        seconds = time.monotonic() - start
        self.timings[name] = seconds
        tasks = json.loads(counts.read_text()) if counts.exists() else {}
        return PlaybookResult(name, proc.returncode, log.read_text(), seconds, log, tasks)

    def ansible(self, module, args="", timeout=300):
        cmd = ["ansible", "-i", str(self.inventory), HOST, "-m", module]
        if args:
            cmd += ["-a", args]
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env(), cwd=REPO, timeout=timeout,
                              check=False)
