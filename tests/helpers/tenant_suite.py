"""The tenant suite's fixtures (tests/integration/tenant/conftest.py) for other integration directories:
tenant containers made by the tenant module on the test dockerds. Each directory loads them under a module
name of its own, so that its own conftest does not shadow the tenant suite's."""
import importlib.util
import os
import sys

TENANT_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "integration", "tenant"))
SHARED = ("ssh_key", "tenant_images_built", "tenant_network", "tenant_host", "gpu_host", "gpu_containers")


def tenant_fixtures(module_name):
    """{fixture name: fixture} of the tenant suite, loaded as `module_name` (its helpers go on sys.path)."""
    if TENANT_DIR not in sys.path:
        sys.path.insert(0, TENANT_DIR)
    spec = importlib.util.spec_from_file_location(module_name, os.path.join(TENANT_DIR, "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict((name, getattr(module, name)) for name in SHARED)
