"""Fixtures for the allocation map against real parts: tenant containers made by the tenant module on
the GPU test dockerd (its NVIDIA hook is a TEST DOUBLE; the tenant suite's fixtures, reused under a name
of their own, as tests/integration/metrics does)."""

from tenant_suite import SHARED, tenant_fixtures

globals().update(tenant_fixtures("gpulab_tenant_conftest_report"))

__all__ = list(SHARED)
