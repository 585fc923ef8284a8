"""A separate dockerd that accepts GPU device requests on a machine without GPUs.

dockerd registers its `nvidia` device driver only when `nvidia-container-runtime-hook` is on its
PATH at start-up. The fixture here starts a dockerd of its own (own socket, data root, exec root,
pid file, and its own network namespace, so that its bridge and addresses never touch the host's
network or the host daemon's docker0; no iptables changes) with a directory on PATH that holds a TEST
DOUBLE of that hook: a script that saves its arguments and stdin (the OCI state) and exits 0.
Nothing here touches a GPU; the double only lets Docker's GPU path run end to end:
`--gpus`/DeviceRequests -> NVIDIA_VISIBLE_DEVICES in the container's process environment and a
`prestart` hook call.

Use the `gpu_dockerd` fixture (session scope), or GpuDockerd directly from another test module.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

HOOK_DOUBLE = """#!/bin/sh
# TEST DOUBLE of nvidia-container-runtime-hook (written by tests/integration/gpu_dockerd.py).
# It is not NVIDIA's hook: it records its arguments and the OCI state on stdin, then exits 0,
# so that a dockerd without GPUs runs containers that make GPU device requests.
set -eu
log_dir=%(log_dir)s
# Time first (fixed-width nanoseconds), so that names sort oldest first; the pid keeps them unique.
n="$(date +%%s%%N)-$$"
printf '%%s\\n' "$*" >"$log_dir/$n.args"
cat >"$log_dir/$n.state.json"
# Keep the OCI config too: it holds the environment the container's first process starts with.
bundle=$(sed -n 's/.*"bundle":"\\([^"]*\\)".*/\\1/p' "$log_dir/$n.state.json")
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then cp "$bundle/config.json" "$log_dir/$n.config.json"; fi
exit 0
"""


class GpuDockerd(object):
    """A dockerd with the hook TEST DOUBLE on its PATH, in a private directory."""

    def __init__(self, root=None, ready_timeout=180.0):
        self.root = root or tempfile.mkdtemp(prefix="gpulab-gpu-dockerd.")
        self.bin_dir = os.path.join(self.root, "bin")
        self.hook_log = os.path.join(self.root, "hook-calls")
        self.socket = os.path.join(self.root, "docker.sock")
        self.host = "unix://" + self.socket
        self.pidfile = os.path.join(self.root, "dockerd.pid")
        self.log_path = os.path.join(self.root, "dockerd.log")
        self.ready_timeout = ready_timeout
        self.process = None
        # Its own network namespace (entered with nsenter, which, unlike `ip netns exec`, leaves the
        # cgroup mounts under /sys in view): its default bridge lives there, not beside the host's.
        self.netns = "gpulab-test-%d-%s" % (os.getpid(), os.path.basename(self.root).split(".")[-1])

    @property
    def cli(self):
        return ["docker", "-H", self.host]

    def start(self):
        os.makedirs(self.bin_dir, exist_ok=True)
        os.makedirs(self.hook_log, exist_ok=True)
        hook = os.path.join(self.bin_dir, "nvidia-container-runtime-hook")
        with open(hook, "w") as handle:
            handle.write(HOOK_DOUBLE % {"log_dir": self.hook_log})
        os.chmod(hook, 0o755)
        env = dict(os.environ, PATH=self.bin_dir + os.pathsep + os.environ.get("PATH", ""))
        env.pop("DOCKER_HOST", None)
        log = open(self.log_path, "w")
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        self.process = subprocess.Popen(
            ["nsenter", "--net=/run/netns/" + self.netns,
             "dockerd", "-H", self.host,
             "--data-root", os.path.join(self.root, "data"),
             "--exec-root", os.path.join(self.root, "exec"),
             "--pidfile", self.pidfile,
             "--iptables=false", "--ip-masq=false", "--ip-forward=false",
             "--userland-proxy=false"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("test dockerd exited: %s" % self.tail())
            probe = subprocess.run(self.cli + ["info", "--format", "{{json .Runtimes}}"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
            if probe.returncode == 0:
                return self
            # Wait on the daemon's own exit (not a fixed sleep) between probes.
            try:
                self.process.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                pass
        raise RuntimeError("test dockerd not ready after %.0f s: %s" % (self.ready_timeout, self.tail()))

    def tail(self, lines=20):
        try:
            with open(self.log_path) as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    def load_image(self, ref, source_cli=("docker",)):
        """Copy an image from another daemon (default: the host's) into this one."""
        save = subprocess.Popen(list(source_cli) + ["save", ref], stdout=subprocess.PIPE)
        subprocess.run(self.cli + ["load", "-q"], stdin=save.stdout, check=True, stdout=subprocess.DEVNULL)
        save.stdout.close()
        if save.wait() != 0:
            raise RuntimeError("docker save %s failed" % ref)

    def hook_calls(self):
        """[(args, OCI state, OCI config)] for every call the hook double got, oldest first."""
        calls = []
        for name in sorted(os.listdir(self.hook_log)):
            if name.endswith(".args"):
                stem = name[:-len(".args")]
                with open(os.path.join(self.hook_log, name)) as handle:
                    args = handle.read().strip()
                state = self._json(stem + ".state.json")
                config = self._json(stem + ".config.json")
                calls.append((args, state, config))
        return calls

    def _json(self, name):
        path = os.path.join(self.hook_log, name)
        if not os.path.exists(path):
            return {}
        with open(path) as handle:
            text = handle.read()
        return json.loads(text) if text.strip() else {}

    def stop(self):
        if self.process is None:
            subprocess.run(["ip", "netns", "delete", self.netns], stderr=subprocess.DEVNULL, check=False)
            return
        subprocess.run(self.cli + ["rm", "-f"] + self._containers(), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        subprocess.run(["ip", "netns", "delete", self.netns], check=False)
        # Data root holds overlay mounts only while running; it is safe to remove now.
        shutil.rmtree(self.root, ignore_errors=True)

    def _containers(self):
        out = subprocess.run(self.cli + ["ps", "-aq"], stdout=subprocess.PIPE, universal_newlines=True, check=False)
        return out.stdout.split()


@pytest.fixture(scope="session")
def gpu_dockerd():
    """A dockerd whose PATH holds a TEST DOUBLE of nvidia-container-runtime-hook (see module doc)."""
    if any(shutil.which(tool) is None for tool in ("dockerd", "ip", "nsenter")):
        pytest.skip("dockerd, ip (iproute2) or nsenter (util-linux) is not installed")
    daemon = GpuDockerd()
    try:
        daemon.start()
    except RuntimeError as exc:
        daemon.stop()
        pytest.skip("cannot start a test dockerd here: %s" % exc)
    yield daemon
    daemon.stop()
