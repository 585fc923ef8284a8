"""Fixtures for gpulab.dgx.gpu_partition against real parts: the GPU test dockerd (nvidia hook TEST DOUBLE) with
the tenant suite's images and network, and the nvidia-smi MIG TEST DOUBLE (tests/helpers/nvidia_smi_mig_double.py)
first on PATH with a state of its own per test."""

import json
import os
import stat
import sys

import pytest

from tenant_suite import SHARED, tenant_fixtures

globals().update(tenant_fixtures("gpulab_tenant_conftest_partition"))

__all__ = list(SHARED) + ["smi_double"]

HELPERS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "helpers"))
A100_80GB_PROFILES = ["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]


class SmiDouble(object):
    """The state file of the nvidia-smi MIG TEST DOUBLE: four A100-SXM4-80GB, MIG off."""

    def __init__(self, path):
        self.path = path
        self.write({"gpus": [{"index": i, "uuid": "GPU-%08d-0000-4000-8000-000000000000" % i, "name": "NVIDIA A100-SXM4-80GB",
                              "pci": "00000000:%02X:00.0" % (7 + i), "memory_mib": 81920, "mig": False, "instances": []}
                             for i in range(4)],
                    "profiles": A100_80GB_PROFILES, "cpus": "0-1", "numa": "0"})

    def read(self):
        with open(self.path) as handle:
            return json.load(handle)

    def write(self, state):
        with open(self.path, "w") as handle:
            json.dump(state, handle)

    def reboot(self):
        """What a reboot does to MIG: the mode stays, the instances are gone."""
        state = self.read()
        for gpu in state["gpus"]:
            gpu["instances"] = []
        self.write(state)

    def changing_calls(self):
        return [c for c in self.read().get("calls", []) if c[:1] == ["mig"] or "-mig" in c]


@pytest.fixture
def smi_double(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    with open(os.path.join(HELPERS, "nvidia_smi_mig_double.py")) as source:
        (bindir / "nvidia-smi").write_text("#!%s\n%s" % (sys.executable, source.read()))
    (bindir / "nvidia-smi").chmod(0o755 | stat.S_IXUSR)
    monkeypatch.setenv("PATH", "%s%s%s" % (bindir, os.pathsep, os.environ["PATH"]))
    state = tmp_path / "nvidia-smi-state.json"
    monkeypatch.setenv("GPULAB_NVIDIA_SMI_DOUBLE_STATE", str(state))
    # The readers try NVML first: make sure no pynvml of this machine answers for the double.
    monkeypatch.setitem(sys.modules, "pynvml", None)
    return SmiDouble(str(state))
