"""Fixtures for the fleet tests: the tenant suite's (ssh_key, tenant images, network, ...), loaded under a name of
this directory's own; the fleet's dockerds are made by the test module itself."""

from tenant_suite import SHARED, tenant_fixtures

globals().update(tenant_fixtures("gpulab_tenant_conftest_fleet"))

__all__ = list(SHARED)
