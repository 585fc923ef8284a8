"""Fixtures for the allocation map against real parts: tenant containers made by the tenant module on
the GPU test dockerd (its NVIDIA hook is a TEST DOUBLE; the tenant suite's fixtures, reused under a name
of their own, as tests/integration/metrics does)."""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TENANT_DIR = os.path.join(os.path.dirname(HERE), "tenant")
if TENANT_DIR not in sys.path:
    sys.path.insert(0, TENANT_DIR)

_SPEC = importlib.util.spec_from_file_location("gpulab_tenant_conftest_report", os.path.join(TENANT_DIR, "conftest.py"))
_TENANT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_TENANT)
ssh_key = _TENANT.ssh_key
tenant_images_built = _TENANT.tenant_images_built
tenant_network = _TENANT.tenant_network
tenant_host = _TENANT.tenant_host
gpu_host = _TENANT.gpu_host

__all__ = ["ssh_key", "tenant_images_built", "tenant_network", "tenant_host", "gpu_host"]
