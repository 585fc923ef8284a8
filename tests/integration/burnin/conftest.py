"""Fixtures for gpulab.dgx.gpu_burnin against real parts: the GPU test dockerd (nvidia hook TEST DOUBLE)
with the tenant suite's images and network, a tenant made by the tenant module there, and the gpu-burn
TEST DOUBLE image."""

import pytest

from tenant_suite import SHARED, tenant_fixtures

globals().update(tenant_fixtures("gpulab_tenant_conftest_burnin"))

from burnin_helpers import build_stress_image  # noqa: E402  (after the tenant suite's helpers are on the path)

__all__ = list(SHARED) + ["stress_image"]


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
