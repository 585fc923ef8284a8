"""The refresh code as roles/tenant_metrics ships it to a host: the files its vars list (paths under
plugins/module_utils), in one zip named gpulab-tenant-metrics.zip in the lib directory that the
command (roles/tenant_metrics/files/gpulab-tenant-metrics) takes as --lib."""
import os
import zipfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
ROLE = os.path.join(ROOT, "roles", "tenant_metrics")


def role_vars():
    with open(os.path.join(ROLE, "vars", "main.yml")) as handle:
        return yaml.safe_load(handle)


def pack(lib_dir):
    """Writes <lib_dir>/gpulab-tenant-metrics.zip from this checkout and returns lib_dir."""
    os.makedirs(lib_dir, exist_ok=True)
    with zipfile.ZipFile(os.path.join(lib_dir, "gpulab-tenant-metrics.zip"), "w") as archive:
        for rel in role_vars()["__tenant_metrics_code_files"]:
            archive.write(os.path.join(MODULE_UTILS, rel), rel)
    return lib_dir
