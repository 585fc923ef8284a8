"""Fixtures for gpulab.dgx.tenant_metrics against real parts: tenant containers made by the tenant
module on the test dockerds (the tenant suite's fixtures, reused), Debian's prometheus-node-exporter
started on loopback with the test's textfile directory, promtool, and a pynvml TEST DOUBLE."""

from tenant_suite import SHARED, tenant_fixtures

# The tenant suite's fixtures (ssh_key, tenant images, network, tenant_host, gpu_host, gpu_containers).
globals().update(tenant_fixtures("gpulab_tenant_conftest_metrics"))

from metrics_helpers import node_exporter  # noqa: E402  (after the tenant suite's helpers are on the path)

__all__ = list(SHARED) + ["node_exporter"]
