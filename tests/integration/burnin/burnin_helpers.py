"""Helpers for gpulab.dgx.gpu_burnin against real parts: the GPU test dockerd (its nvidia hook is a TEST
DOUBLE), a local image holding the gpu-burn TEST DOUBLE (gpu_burn_double.py), and a pynvml TEST DOUBLE
whose temperatures follow a ramp, one reading per call."""
import json
import os
import subprocess
import sys
import tempfile

# A run that a critical temperature must stop early: long enough that no slow or busy machine ends it before
# its first few samples (the double runs for as long as it is told; a stopped run takes seconds).
RAMP_SECONDS = 900

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BASE = "gpulab/debian12:latest"
STRESS_IMAGE = "gpulab-test-burnin/gpu-burn-double"

NVML_DOUBLE = '''"""TEST DOUBLE of pynvml (nvidia-ml-py), written by tests/integration/burnin/burnin_helpers.py. It is not
NVIDIA's library: it answers gpulab.dgx.gpu_burnin's calls from the JSON file named by GPULAB_TEST_NVML_STATE:
{"driver": str, "gpus": [{"uuid", "name", "bus", "limits": [max operating, slowdown, shutdown] or null,
"temps": [C, ...] (one per call, the last one repeated), "ecc": [before, after], "reasons": int}]}.
The temperature calls made so far are counted in <state>.calls."""
import json
import os

NVML_ERROR_NOT_SUPPORTED = 3


class NVMLError(Exception):
    def __init__(self, value):
        super(NVMLError, self).__init__("NVML TEST DOUBLE error %d" % value)
        self.value = value


class _Row(object):
    def __init__(self, **fields):
        self.__dict__.update(fields)


def _state():
    with open(os.environ["GPULAB_TEST_NVML_STATE"]) as handle:
        return json.load(handle)


def _gpu(handle):
    return _state()["gpus"][handle]


def _calls():
    path = os.environ["GPULAB_TEST_NVML_STATE"] + ".calls"
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def _count(key):
    calls = _calls()
    calls[key] = calls.get(key, 0) + 1
    with open(os.environ["GPULAB_TEST_NVML_STATE"] + ".calls", "w") as handle:
        json.dump(calls, handle)
    return calls[key] - 1


def nvmlInit():
    pass


def nvmlShutdown():
    pass


def nvmlSystemGetDriverVersion():
    return _state()["driver"]


def nvmlDeviceGetCount():
    return len(_state()["gpus"])


def nvmlDeviceGetHandleByIndex(index):
    return index


def nvmlDeviceGetUUID(handle):
    return _gpu(handle)["uuid"]


def nvmlDeviceGetName(handle):
    return _gpu(handle)["name"]


def nvmlDeviceGetPciInfo(handle):
    return _Row(busId=_gpu(handle)["bus"])


def nvmlDeviceGetPersistenceMode(handle):
    return 1


def nvmlDeviceGetTemperatureThreshold(handle, which):
    limits = _gpu(handle).get("limits")
    if not limits or which not in (0, 1, 3):
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return {3: limits[0], 1: limits[1], 0: limits[2]}[which]


def nvmlDeviceGetTemperature(handle, sensor):
    temps = _gpu(handle)["temps"]
    return temps[min(_count("temp-%d" % handle), len(temps) - 1)]


def nvmlDeviceGetTotalEccErrors(handle, kind, counter):
    ecc = _gpu(handle).get("ecc", [0, 0])
    return ecc[min(_count("ecc-%d-%d" % (handle, kind)), 1)] if kind == 1 else 0


def nvmlDeviceGetPowerUsage(handle):
    return 350000


def nvmlDeviceGetClockInfo(handle, clock):
    return 1410 if clock == 1 else 1593


def nvmlDeviceGetCurrentClocksEventReasons(handle):
    return _gpu(handle).get("reasons", 0)
'''


def nvml_double(directory, gpus, driver="550.90.07"):
    """The pynvml TEST DOUBLE in `directory` (first on the module's PYTHONPATH) and its state; the environment."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "pynvml.py"), "w") as handle:
        handle.write(NVML_DOUBLE)
    state = os.path.join(directory, "nvml-state.json")
    with open(state, "w") as handle:
        json.dump({"driver": driver, "gpus": gpus}, handle)
    return {"GPULAB_TEST_NVML_STATE": state}


def temperature_calls(env):
    with open(env["GPULAB_TEST_NVML_STATE"] + ".calls") as handle:
        return dict((k, v) for k, v in json.load(handle).items() if k.startswith("temp-"))


def build_stress_image(faulty=(), cli=("docker",)):
    """STRESS_IMAGE:<tag> FROM the local Debian base with the gpu-burn TEST DOUBLE as `gpu_burn`; its ref."""
    tag = "faulty-" + "-".join(sorted(u[-4:] for u in faulty)) if faulty else "healthy"
    with tempfile.TemporaryDirectory(prefix="gpulab-burnin-img.") as ctx:
        with open(os.path.join(HERE, "gpu_burn_double.py")) as source, open(os.path.join(ctx, "gpu_burn"), "w") as target:
            target.write("#!/usr/bin/env python3\n" + source.read())
        os.chmod(os.path.join(ctx, "gpu_burn"), 0o755)
        with open(os.path.join(ctx, "faulty"), "w") as handle:
            handle.write("\n".join(faulty) + "\n")
        with open(os.path.join(ctx, "Dockerfile"), "w") as handle:
            handle.write("FROM %s\nCOPY gpu_burn /usr/local/bin/gpu_burn\nCOPY faulty /etc/gpu-burn-double/faulty\n"
                         "LABEL gpulab.test=gpu-burn-double\n" % BASE)
        subprocess.run(list(cli) + ["build", "-q", "-t", "%s:%s" % (STRESS_IMAGE, tag), ctx], check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, DOCKER_BUILDKIT="0"))
    return "%s:%s" % (STRESS_IMAGE, tag)


def run_burnin(args, pythonpath=(), check=False, env=None, path_prefix=None):
    """gpulab.dgx.gpu_burnin in a process of its own, as Ansible runs a module on the host; its JSON result."""
    env = dict(os.environ, **(env or {}))
    env["PYTHONPATH"] = os.pathsep.join(list(pythonpath) + [os.path.join(ROOT, ".collections")])
    if path_prefix:
        env["PATH"] = path_prefix + os.pathsep + env["PATH"]
    done = subprocess.run([sys.executable, "-m", "ansible_collections.gpulab.dgx.plugins.modules.gpu_burnin",
                           json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check)})],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, universal_newlines=True, check=False)
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise AssertionError("no JSON from the module (rc %d): %s %s" % (done.returncode, done.stdout, done.stderr))
