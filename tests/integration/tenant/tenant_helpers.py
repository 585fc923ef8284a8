"""Helpers for the tenant module's integration tests against a real dockerd.

Everything these tests make is named gpulab-test-tenant-* (containers, images, network) and is
removed at the end; nothing else on the daemon is touched.
"""

import contextlib
import io
import json
import os
import subprocess
import sys

import tenant_images

PREFIX = "gpulab-test-tenant-"
NETWORK = "gpulab-test-tenant-net"
ROOT = tenant_images.ROOT
IMAGE_V1 = tenant_images.IMAGE + ":v1"
IMAGE_V2 = tenant_images.IMAGE + ":v2"
# The real CPUs of this machine (all on NUMA node 0): Docker refuses cpusets it cannot honour.
HOST_CPUS = sorted(os.sched_getaffinity(0))
# The module's default memlock is -1 (unlimited), as on a DGX. The dockerds of this test host (the
# host's and the GPU test dockerd, same machine) lack CAP_SYS_RESOURCE and cannot raise the hard
# memlock limit above their own 8 MiB: `docker run --ulimit memlock=-1` fails here with "error setting
# rlimit type 8: operation not permitted". Every test that creates a container gives this instead
# (stack keeps the module's default); test_tenant_ml_ready shows what -1 does on this host.
HOST_ULIMITS = {"memlock": 8388608}


def cpu_topology(cpus=None):
    """A GPU-less topology over CPUs that exist here."""
    return {"gpus": [], "links": {}, "siblings": [],
            "numa_nodes": {"0": {"cpus": list(cpus if cpus is not None else HOST_CPUS), "distance": {"0": 10}}}}


def gpu_topology(count=8):
    """A synthetic topology: `count` GPUs with UUIDs, NVLinked, all on NUMA node 0 over the real CPUs."""
    gpus = [{"index": i, "uuid": "GPU-00000000-0000-0000-0000-%012d" % i, "numa_node": 0,
             "cpus": list(HOST_CPUS), "name": "test double GPU", "pci_bus_id": "00000000:%02X:00.0" % (i + 1)}
            for i in range(count)]
    links = dict(("%d,%d" % (i, j), "NV12") for i in range(count) for j in range(i + 1, count))
    return {"gpus": gpus, "links": links, "siblings": [],
            "numa_nodes": {"0": {"cpus": list(HOST_CPUS), "distance": {"0": 10}}}}


def data_dir(args):
    """Where the tenant module keeps this tenant's data: <data_base>/<name>."""
    return os.path.join(args["data_base"], args["name"])


# Which module the tests drive: `single` (gpulab.dgx.tenant) or `batch` (gpulab.dgx.tenants with a
# one-item list, its result unwrapped into the single module's shape). `make integration` runs the
# tenant tests through both, so every behaviour of the single path is shown to hold for the batch.
TENANT_PATH = os.environ.get("GPULAB_TENANT_PATH", "single")
HOST_OPTIONS = ("topology", "docker_host", "lock_path", "lock_timeout", "verify", "verify_parallel", "verify_timeout")


def batch_args(args):
    """The one-tenant module's arguments as the batch module takes them."""
    host = dict((k, v) for k, v in args.items() if k in HOST_OPTIONS)
    item = dict((k, v) for k, v in args.items() if k not in HOST_OPTIONS)
    return dict(host, tenants=[item])


def unwrap(result):
    """A batch module's result for its one tenant, in the single module's shape."""
    if result.get("errors"):  # refused before anything changed: drop the "tenants[0] (name): " prefix
        first = result["errors"][0]
        return dict(result, msg="; ".join(e["msg"][len(e["item"]) + 2:] for e in result["errors"]),
                    field=first["field"], value=first["value"])
    if not result.get("tenants"):
        return result  # the whole run stopped (Docker unreachable, lock not taken)
    (one,) = result["tenants"].values()
    return dict(one, warnings=one.get("warnings") or [])


def run_module(args, check=False, diff=True):
    """Run the tenant module (or the batch module, see TENANT_PATH) in this process, as Ansible would;
    return its JSON result."""
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.gpulab.dgx.plugins.modules import tenant, tenants
    batch = TENANT_PATH == "batch"
    module_args = dict(batch_args(args) if batch else args, _ansible_check_mode=check, _ansible_diff=diff)
    out = io.StringIO()
    with patch_module_args(module_args), contextlib.redirect_stdout(out):
        try:
            (tenants if batch else tenant).main()
        except SystemExit:
            pass
    result = json.loads(out.getvalue())
    return unwrap(result) if batch else result


def warnings_of(result):
    """Warning texts of a module result (core 2.19 hands them over as structured events)."""
    texts = []
    for warning in result.get("warnings") or []:
        if isinstance(warning, dict):
            warning = (warning.get("event") or {}).get("msg") or str(warning)
        texts.append(warning)
    return texts


def module_process(args):
    """Start the tenant module (or the batch module, see TENANT_PATH) as a separate process, as Ansible
    runs it on the host; read its output with process_result()."""
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    batch = TENANT_PATH == "batch"
    return subprocess.Popen(
        [sys.executable, "-m", "ansible_collections.gpulab.dgx.plugins.modules." + ("tenants" if batch else "tenant"),
         json.dumps({"ANSIBLE_MODULE_ARGS": batch_args(args) if batch else args})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, universal_newlines=True)


def process_result(stdout):
    """The JSON result a module_process() printed, in the single module's shape."""
    result = json.loads(stdout)
    return unwrap(result) if TENANT_PATH == "batch" else result


def remove_test_containers(client):
    for container in client.containers.list(all=True, filters={"label": "gpulab.tenant"}):
        if container.name.startswith(PREFIX):
            container.remove(force=True)


def create(args):
    """Create a tenant with the tenant module (it must change something and not fail); its `tenant` result."""
    result = run_module(args)
    assert result.get("changed") and not result.get("failed"), result
    return result["tenant"]
