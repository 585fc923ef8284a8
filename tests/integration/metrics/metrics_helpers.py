"""Helpers for the tenant_metrics integration tests: run the module as Ansible runs it, node_exporter
on loopback, promtool, the exposition text parsed, and a pynvml TEST DOUBLE."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tenant_helpers import ROOT

NODE_EXPORTER = "prometheus-node-exporter"  # Debian's name for node_exporter
PROMTOOL = "promtool"  # Debian package `prometheus`


def binary(name, package):
    """The path of a binary the tests need; a clear failure (not a skip) when it is missing: CI installs it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is missing: install Debian's `%s` package (scripts/setup-system.sh, `make setup`)" % (name, package))
    return path


def run_metrics(args, pythonpath=(), check=False, env=None):
    """Run gpulab.dgx.tenant_metrics in a process of its own, as Ansible runs a module on the host
    (`pythonpath` first on its PYTHONPATH: where the pynvml TEST DOUBLE lies); its JSON result."""
    env = dict(os.environ, **(env or {}))
    env["PYTHONPATH"] = os.pathsep.join(list(pythonpath) + [os.path.join(ROOT, ".collections")])
    module_args = dict(args, _ansible_check_mode=check)
    done = subprocess.run([sys.executable, "-m", "ansible_collections.gpulab.dgx.plugins.modules.tenant_metrics",
                           json.dumps({"ANSIBLE_MODULE_ARGS": module_args})],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, universal_newlines=True, check=False)
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise AssertionError("no JSON from the module (rc %d): %s %s" % (done.returncode, done.stdout, done.stderr))


def run_through_ansible(args, tmp_path):
    """Run the module through `ansible-playbook` on localhost (the venv's Python); its registered result."""
    playbook = tmp_path / "metrics.yml"
    out = tmp_path / "result.json"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False, "connection": "local",
        "tasks": [{"name": "Refresh", "gpulab.dgx.tenant_metrics": args, "register": "refreshed"},
                  {"name": "Keep the result", "ansible.builtin.copy": {"content": "{{ refreshed | to_json }}", "dest": str(out)}}]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"))
    done = subprocess.run(["ansible-playbook", "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % sys.executable,
                           str(playbook)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                          universal_newlines=True, check=False)
    assert done.returncode == 0, done.stdout
    return json.loads(out.read_text())


def promtool_check(path):
    done = subprocess.run([binary(PROMTOOL, "prometheus"), "check", "metrics"], stdin=open(path),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout


def samples(text, prefix="gpulab_"):
    """{(name, frozenset of (label, value))): float} of the exposition text's samples named prefix*."""
    found = {}
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        head, value = line.rsplit(" ", 1)
        name, _brace, labels = head.partition("{")
        pairs = []
        rest = labels[:-1] if labels.endswith("}") else labels
        while rest:
            key, rest = rest.split('="', 1)
            value_text, i = [], 0
            while rest[i] != '"':
                if rest[i] == "\\":
                    value_text.append({"n": "\n"}.get(rest[i + 1], rest[i + 1]))
                    i += 2
                else:
                    value_text.append(rest[i])
                    i += 1
            pairs.append((key, "".join(value_text)))
            rest = rest[i + 1:].lstrip(",")
        key = (name, frozenset(pairs))
        assert key not in found, line
        found[key] = float(value)
    return found


def of_tenant(found, tenant):
    """{(name, labels without tenant): value} of one tenant's series."""
    return dict(((name, frozenset(p for p in labels if p[0] != "tenant")), value)
                for (name, labels), value in found.items() if ("tenant", tenant) in labels)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NodeExporter(object):
    """Debian's node_exporter on 127.0.0.1 with only the textfile collector, over `directory`."""

    def __init__(self, directory, log):
        self.directory = directory
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/metrics" % self.port
        self.process = subprocess.Popen(
            [binary(NODE_EXPORTER, "prometheus-node-exporter"), "--web.listen-address=127.0.0.1:%d" % self.port,
             "--collector.disable-defaults", "--collector.textfile", "--collector.textfile.directory=%s" % directory],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("node_exporter exited with %s" % self.process.returncode)
            try:
                self.scrape()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("node_exporter did not answer on %s" % self.url)

    def scrape(self):
        with urllib.request.urlopen(self.url, timeout=10) as answer:
            return answer.read().decode()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def node_exporter(tmp_path):
    """A node_exporter of this test's own (never the host's service) reading tmp_path/textfile; stopped after the test."""
    directory = tmp_path / "textfile"
    directory.mkdir()
    with open(str(tmp_path / "node_exporter.log"), "w") as log:
        exporter = NodeExporter(str(directory), log)
    try:
        yield exporter
    finally:
        exporter.stop()


NVML_DOUBLE = '''"""TEST DOUBLE of pynvml (nvidia-ml-py), written by tests/integration/metrics/metrics_helpers.py.
It is not NVIDIA's library: it answers the per-process calls of gpulab.dgx.tenant_metrics from the JSON
file named by GPULAB_TEST_NVML_STATE: {"gpus": [{"uuid", "compute": [[pid, bytes]], "graphics": [...],
"utilization": [[pid, sm percent, timestamp]] or "not_supported"}]}."""
import json
import os

NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NOT_FOUND = 6


class NVMLError(Exception):
    def __init__(self, value):
        super(NVMLError, self).__init__("NVML TEST DOUBLE error %d" % value)
        self.value = value


class _Row(object):
    def __init__(self, **fields):
        self.__dict__.update(fields)


def _state():
    with open(os.environ["GPULAB_TEST_NVML_STATE"]) as handle:
        return json.load(handle)["gpus"]


def nvmlInit():
    pass


def nvmlShutdown():
    pass


def nvmlDeviceGetCount():
    return len(_state())


def nvmlDeviceGetHandleByIndex(index):
    return index


def nvmlDeviceGetUUID(handle):
    return _state()[handle]["uuid"]


def nvmlDeviceGetComputeRunningProcesses(handle):
    return [_Row(pid=pid, usedGpuMemory=used) for pid, used in _state()[handle].get("compute", [])]


def nvmlDeviceGetGraphicsRunningProcesses(handle):
    return [_Row(pid=pid, usedGpuMemory=used) for pid, used in _state()[handle].get("graphics", [])]


def nvmlDeviceGetProcessUtilization(handle, last_seen):
    samples = _state()[handle].get("utilization", [])
    if samples == "not_supported":
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    if not samples:
        raise NVMLError(NVML_ERROR_NOT_FOUND)
    return [_Row(pid=pid, smUtil=sm, memUtil=0, encUtil=0, decUtil=0, timeStamp=ts) for pid, sm, ts in samples]
'''


def nvml_double(directory, gpus):
    """Write the pynvml TEST DOUBLE into `directory` (to go first on PYTHONPATH) and its state; the
    environment the module needs to read that state."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "pynvml.py"), "w") as handle:
        handle.write(NVML_DOUBLE)
    state = os.path.join(directory, "nvml-state.json")
    with open(state, "w") as handle:
        json.dump({"gpus": gpus}, handle)
    return {"GPULAB_TEST_NVML_STATE": state}
