"""The preflight role's verdicts (filter gpulab.dgx.preflight_checks), from readings as its tasks
register them: nvidia_facts' result, docker_host_info's, the cgroup probe, facts and findmnt."""
import json

import pytest

from ansible_collections.gpulab.dgx.plugins.filter.preflight_checks import preflight_checks

SETTINGS = {"require_gpus": True, "gpu_count_min": "8", "driver_min_version": "535", "require_persistence_mode": True,
            "cuda_versions_required": ["12.1", "nvidia/cuda:11.8.0-base-ubuntu22.04"], "docker_min_version": "19.03",
            "require_docker": False, "kernel_min_version": "5.4"}


def gpus(count=8, persistence=True, mig=()):
    return [{"index": i, "name": "NVIDIA A100-SXM4-80GB", "persistence_mode": persistence, "mig_mode": i in mig}
            for i in range(count)]


def findmnt(path, fstype="xfs", options="rw,relatime,prjquota", avail=512 * 1024 ** 3, fstype_want=None,
            options_want=None, min_free_gib=None):
    """One registered findmnt loop result: the item asked for and the filesystem found."""
    fs = {"target": path, "source": "/dev/md1", "fstype": fstype, "options": options, "avail": str(avail)}
    want = {"path": path}
    for key, value in (("fstype", fstype_want), ("options", options_want), ("min_free_gib", min_free_gib)):
        if value is not None:
            want[key] = value
    return {"item": want, "rc": 0, "stdout": json.dumps({"filesystems": [fs]})}


def host_info(version):
    return {"can_talk_to_docker": True, "host_info": {"ServerVersion": version, "Driver": "overlay2"}}


NO_SOCKET = ("Error connecting: Error while fetching server API version: ('Connection aborted.', "
             "FileNotFoundError(2, 'No such file or directory'))")
NO_REQUESTS = ("Failed to import the required Python library (requests) on dgx01's Python /usr/bin/python3. "
               "Please read the module documentation and install it in the appropriate location.")


def readings(**over):
    base = {"nvidia": {"available": True, "gpus": gpus(), "gpu_count": 8, "source": "nvml", "driver_version": "535.104.05",
                       "cuda_version": "12.2"},
            "docker": host_info("24.0.7"), "cgroup2": True, "kernel": "5.15.0-91-generic",
            "distribution": "Ubuntu", "distribution_version": "22.04",
            "findmnt": [findmnt("/raid")],
            "settings": dict(SETTINGS)}
    base.update(over)
    return base


def lines(result):
    return [c["line"] for c in result]


def test_a_healthy_dgx_passes_every_check():
    assert lines(preflight_checks(readings())) == [
        "OK   gpus: 8 x NVIDIA A100-SXM4-80GB (nvml)",
        "OK   driver: 535.104.05",
        "OK   persistence mode: on for every GPU",
        "OK   cuda: driver supports CUDA 12.2 >= 12.1 (highest asked for)",
        "OK   docker: Docker Engine 24.0.7",
        "OK   kernel: 5.15.0-91-generic (Ubuntu 22.04)",
        "INFO cgroup: v2 (unified)",
        "OK   filesystem /raid: xfs /dev/md1 on /raid, 512.0 GiB free",
    ]


def test_no_gpu_fails_when_required_and_warns_otherwise():
    nv = {"available": False, "source": "nvidia-smi", "error": "couldn't communicate with the NVIDIA driver",
          "cuda_version": None}
    first = preflight_checks(readings(nvidia=nv))[0]
    assert first["line"] == "FAIL gpus: no GPU visible (nvidia-smi): couldn't communicate with the NVIDIA driver"
    relaxed = readings(nvidia=nv)
    relaxed["settings"]["require_gpus"] = "false"  # as -e hands it over
    checks = preflight_checks(relaxed)
    assert checks[0]["status"] == "WARN"
    assert checks[1]["line"] == "WARN cuda: the driver reports no CUDA version; tenant images ask for up to CUDA 12.1"


def test_too_few_gpus_old_driver_persistence_off_and_mig():
    nv = {"available": True, "gpus": gpus(4, persistence=False, mig=(1, 3)), "gpu_count": 4, "source": "nvml",
          "driver_version": "470.57.02", "cuda_version": "11.4"}
    settings = dict(SETTINGS, require_persistence_mode=False)
    checks = {c["check"]: c for c in preflight_checks(readings(nvidia=nv, settings=settings))}
    assert checks["gpus"]["line"].endswith("; at least 8 expected (preflight_gpu_count_min)")
    assert checks["driver"]["line"] == "FAIL driver: 470.57.02, older than 535 (preflight_driver_min_version)"
    assert checks["persistence mode"]["status"] == "WARN" and "off on GPU 0,1,2,3" in checks["persistence mode"]["detail"]
    assert checks["mig"]["line"] == "INFO mig: MIG mode on for GPU 1,3"
    assert checks["cuda"]["line"] == ("FAIL cuda: driver supports up to CUDA 11.4 but tenant images ask for 12.1, 11.8: "
                                      "update the driver or use older images")


@pytest.mark.parametrize("wanted,status,text", [
    (["12.4", "12.6", "11.8", "12.4"], "FAIL", "ask for 12.4, 12.6:"),
    (["cuda-latest"], "FAIL", "no CUDA version can be read from cuda-latest"),
    ([], "INFO", "driver supports CUDA 12.2; no tenant CUDA version to compare"),
    (["12.10"], "FAIL", "ask for 12.10"),  # versions compare as versions, not as text
])
def test_cuda_versions(wanted, status, text):
    cuda = preflight_checks(readings(settings=dict(SETTINGS, cuda_versions_required=wanted)))[3]
    assert cuda["check"] == "cuda" and cuda["status"] == status and text in cuda["detail"], cuda


@pytest.mark.parametrize("docker,require,line", [
    (host_info("18.09.1"), False, "FAIL docker: Docker Engine 18.09.1 is older than 19.03"),
    (host_info("26.1.5+dfsg1"), True, "OK   docker: Docker Engine 26.1.5+dfsg1"),
    ({"can_talk_to_docker": False, "msg": NO_SOCKET}, False,
     "INFO docker: no Docker Engine answers (nothing listens on Docker's socket"),
    ({"can_talk_to_docker": False, "msg": NO_REQUESTS}, True,
     "FAIL docker: no Docker Engine answers (the host's Python lacks requests (python3-requests)"),
    ({"can_talk_to_docker": False, "msg": "Error connecting: permission denied\nmore"}, True,
     "FAIL docker: no Docker Engine answers (Error connecting: permission denied)"),
    ({"can_talk_to_docker": True, "host_info": {}}, True, "FAIL docker: no Docker Engine answers (no answer)"),
])
def test_docker(docker, require, line):
    checks = preflight_checks(readings(docker=docker, settings=dict(SETTINGS, require_docker=require)))
    assert [c["line"] for c in checks if c["check"] == "docker"][0].startswith(line)


def test_old_kernel_cgroup_v1_and_filesystem_problems():
    mounts = [findmnt("/raid", fstype="ext4", options="rw,relatime", avail=10 * 1024 ** 3,
                      fstype_want="xfs", options_want=["prjquota"], min_free_gib=100),
              {"item": {"path": "/scratch", "required": False}, "rc": 1, "stderr": ""}]
    checks = {c["check"]: c for c in preflight_checks(readings(kernel="4.19.0-25-amd64", cgroup2=False, findmnt=mounts))}
    assert checks["kernel"]["line"] == "FAIL kernel: 4.19.0-25-amd64, older than 5.4 (preflight_kernel_min_version)"
    assert checks["cgroup"]["detail"] == "v1"
    assert checks["filesystem /raid"]["line"] == (
        "FAIL filesystem /raid: ext4 /dev/md1 on /raid, 10.0 GiB free: filesystem type is ext4, not xfs; "
        "mount options lack prjquota; less than 100 GiB free")
    assert checks["filesystem /scratch"]["line"] == "WARN filesystem /scratch: not found: the path does not exist"
