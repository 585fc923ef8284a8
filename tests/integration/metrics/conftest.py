"""Fixtures for gpulab.dgx.tenant_metrics against real parts: tenant containers made by the tenant
module on the test dockerds (the tenant suite's fixtures, reused), Debian's prometheus-node-exporter
started on loopback with the test's textfile directory, promtool, and a pynvml TEST DOUBLE."""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TENANT_DIR = os.path.join(os.path.dirname(HERE), "tenant")
if TENANT_DIR not in sys.path:
    sys.path.insert(0, TENANT_DIR)

# The tenant suite's fixtures (ssh_key, tenant images, network, tenant_host, gpu_host), loaded under a
# name of their own so that this directory's conftest does not shadow them.
_SPEC = importlib.util.spec_from_file_location("gpulab_tenant_conftest", os.path.join(TENANT_DIR, "conftest.py"))
_TENANT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_TENANT)
ssh_key = _TENANT.ssh_key
tenant_images_built = _TENANT.tenant_images_built
tenant_network = _TENANT.tenant_network
tenant_host = _TENANT.tenant_host
gpu_host = _TENANT.gpu_host
gpu_containers = _TENANT.gpu_containers

from metrics_helpers import node_exporter  # noqa: E402  (after the path above)

__all__ = ["ssh_key", "tenant_images_built", "tenant_network", "tenant_host", "gpu_host", "gpu_containers", "node_exporter"]
