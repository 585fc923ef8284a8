"""Fixtures for gpulab.dgx.gpu_burnin against real parts: the GPU test dockerd (nvidia hook TEST DOUBLE)
with the tenant suite's images and network, a tenant made by the tenant module there, and the gpu-burn
TEST DOUBLE image."""

import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TENANT_DIR = os.path.join(os.path.dirname(HERE), "tenant")
if TENANT_DIR not in sys.path:
    sys.path.insert(0, TENANT_DIR)

# The tenant suite's fixtures, loaded under a name of their own (as tests/integration/metrics does).
_SPEC = importlib.util.spec_from_file_location("gpulab_tenant_conftest_burnin", os.path.join(TENANT_DIR, "conftest.py"))
_TENANT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_TENANT)
ssh_key = _TENANT.ssh_key
tenant_images_built = _TENANT.tenant_images_built
tenant_network = _TENANT.tenant_network
tenant_host = _TENANT.tenant_host
gpu_host = _TENANT.gpu_host
gpu_containers = _TENANT.gpu_containers

from burnin_helpers import build_stress_image  # noqa: E402  (after the path above)

__all__ = ["ssh_key", "tenant_images_built", "tenant_network", "tenant_host", "gpu_host", "gpu_containers", "stress_image"]


@pytest.fixture(scope="session")
def stress_image(gpu_host):
    """build(faulty UUIDs) -> the gpu-burn TEST DOUBLE image with those UUIDs FAULTY, loaded into the GPU dockerd."""
    built = {}

    def build(faulty=()):
        key = tuple(sorted(faulty))
        if key not in built:
            ref = build_stress_image(key)
            gpu_host.load_image(ref)
            built[key] = ref
        return built[key]
    return build
