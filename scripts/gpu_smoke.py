"""The checks of scripts/gpu-smoke.sh (see there). Each check prints one line: PASS, FAIL or SKIP."""
import json
import os
import subprocess
import sys

from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia import smi as nvidia_smi
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.host import read_host_topology
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.text import parse_topology_text

RESULTS = []


def report(status, name, detail=""):
    RESULTS.append({"check": name, "status": status, "detail": detail})
    print("%-4s %s%s" % (status, name, (": " + detail) if detail else ""))


def run(args):
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              check=False)
    except OSError as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def shape(topology):
    return {"gpus": len(topology["gpus"]),
            "numa": [g["numa_node"] for g in sorted(topology["gpus"], key=lambda g: g["index"])],
            "links": dict(sorted(topology["links"].items()))}


def topology_checks():
    try:
        import pynvml
    except ImportError as exc:
        report("SKIP", "gpu_info through NVML", "pynvml is not installed (%s)" % exc)
        pynvml = None
    nvml_topo = None
    if pynvml is not None:
        try:
            nvml_topo = read_host_topology(nvml=pynvml)
            report("PASS", "gpu_info through NVML", json.dumps(shape(nvml_topo)["numa"]))
        except Exception as exc:  # pylint: disable=broad-except
            report("FAIL", "gpu_info through NVML", str(exc))
    rc, matrix, err = run(["nvidia-smi", "topo", "-m"])
    if rc != 0:
        report("FAIL", "nvidia-smi topo -m", (err or matrix).strip()[:300])
        return
    lscpu = run(["lscpu"])[1]
    try:
        text_topo = parse_topology_text(matrix, lscpu=lscpu)
        report("PASS", "gpu_info through nvidia-smi text", json.dumps(shape(text_topo)["numa"]))
    except Exception as exc:  # pylint: disable=broad-except
        report("FAIL", "gpu_info through nvidia-smi text", str(exc))
        return
    if nvml_topo is not None:
        same = shape(nvml_topo) == shape(text_topo)
        report("PASS" if same else "FAIL", "NVML and nvidia-smi agree (GPUs, NUMA nodes, links)",
               "" if same else "NVML %s vs text %s" % (shape(nvml_topo), shape(text_topo)))


def facts_checks():
    try:
        smi = nvidia_smi.read_nvidia_smi(lambda args: run(["nvidia-smi"] + list(args)))
        report("PASS", "nvidia_facts through nvidia-smi", "driver %s, CUDA %s, %d GPU(s)"
               % (smi.get("driver_version"), smi.get("cuda_version"), len(smi.get("gpus") or [])))
    except Exception as exc:  # pylint: disable=broad-except
        report("FAIL", "nvidia_facts through nvidia-smi", str(exc))


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGcd1Z3D0a5o1vJ8xj6mWm4S7GkQn0XoYb2s7HqkQp2K smoke@gpulab"
PROBE = "nvidia-smi -L; df -B1 --output=size /dev/shm | tail -1; ulimit -l; ulimit -s"


def tenant_kwargs(image, topology):
    """What the tenant module would create for a 1-GPU, 2-CPU tenant (placement and create
    arguments from its own code), with a probe for a command and no port or data mount."""
    from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc import allocate
    from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.container import Desired
    from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import validate_spec
    spec = validate_spec({"name": "gpulab-smoke", "image": image, "gpus": 1, "cpus": 2, "memory": "8G",
                          "ssh_public_keys": [KEY], "data_base": "/var/tmp/gpulab-smoke"})
    alloc = allocate(spec, None, [], topology)
    desired = Desired(spec, alloc, 2222, image, None, None)
    kwargs = desired.create_kwargs()
    for key in ("ports", "volumes", "restart_policy", "name", "detach", "network"):
        kwargs.pop(key, None)
    kwargs.update(command=["sh", "-c", PROBE], remove=True)
    return desired, kwargs


def tenant_check():
    image = os.environ.get("GPULAB_SMOKE_IMAGE", "nvidia/cuda:12.4.1-base-ubuntu22.04")
    try:
        import docker
        client = docker.from_env(version="auto")
        client.images.get(image)
    except Exception as exc:  # pylint: disable=broad-except
        report("SKIP", "1-GPU tenant", "needs the Docker SDK, a daemon and the image %s (%s)" % (image, exc))
        return
    try:
        topology = read_host_topology(nvml=__import__("pynvml"))
    except Exception:  # pylint: disable=broad-except
        topology = parse_topology_text(run(["nvidia-smi", "topo", "-m"])[1], lscpu=run(["lscpu"])[1])
    try:
        desired, kwargs = tenant_kwargs(image, topology)
        out = client.containers.run(**kwargs).decode()
    except Exception as exc:  # pylint: disable=broad-except
        report("FAIL", "1-GPU tenant", str(exc)[:300])
        return
    lines = out.strip().splitlines()
    listed = [line for line in lines if line.startswith("GPU ")]
    want = desired.gpu_ids[0]
    ok = len(listed) == 1 and (want in listed[0] or listed[0].startswith("GPU %s:" % want))
    report("PASS" if ok else "FAIL", "1-GPU tenant sees exactly its GPU (%s)" % want, " | ".join(listed))
    shm, memlock, stack = (lines[len(listed):] + ["", "", ""])[:3]
    want_memlock = desired.ulimits.get("memlock", {}).get("soft")
    want_stack = desired.ulimits.get("stack", {}).get("soft")
    seen = (int(shm) if shm.isdigit() else None, memlock, stack)
    wanted = (desired.shm_size, "unlimited" if want_memlock == -1 else str((want_memlock or 0) // 1024),
              str((want_stack or 0) // 1024))
    # tmpfs rounds /dev/shm up to whole pages.
    ok = seen[0] is not None and 0 <= seen[0] - wanted[0] <= 65536 and seen[1:] == wanted[1:]
    report("PASS" if ok else "FAIL", "shm, memlock and stack as the tenant module sets them",
           "seen %s, wanted %s" % (seen, wanted))


def main():
    topology_checks()
    facts_checks()
    tenant_check()
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as handle:
            json.dump(RESULTS, handle, indent=2)
    failed = [r for r in RESULTS if r["status"] == "FAIL"]
    print("gpu-smoke: %d passed, %d failed, %d skipped" % (
        sum(r["status"] == "PASS" for r in RESULTS), len(failed), sum(r["status"] == "SKIP" for r in RESULTS)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
