"""After a reboot the array, its mount, Docker and every tenant come back as they were."""
import json

TENANTS = ("alice", "bob", "carol")


def state_of(bed, name):
    c = bed.docker_json("inspect", name)[0]
    requests = c["HostConfig"].get("DeviceRequests") or []
    return {
        "running": c["State"]["Running"],
        "gpus": sorted(requests[0]["DeviceIDs"]) if requests else [],
        "cpuset": c["HostConfig"]["CpusetCpus"],
        "port": c["HostConfig"]["PortBindings"]["22/tcp"][0]["HostPort"],
        "labels": {k: v for k, v in c["Config"]["Labels"].items() if k.startswith("gpulab.")},
    }


def test_reboot_brings_everything_back(bed, steps, needs):
    needs("tenants")
    before = {n: state_of(bed, n) for n in TENANTS}
    for n in TENANTS:
        bed.ssh("docker exec %s sh -c 'echo kept-%s > /data/marker && sync'" % (n, n))
    hook_calls_before = len(bed.out("cat /run/gpulab-test-double/nvidia-container-runtime-hook/calls.log").splitlines())
    assert hook_calls_before > 0
    bed.reboot()
    steps.add("rebooted")

    assert "md1 : active raid0" in bed.out("cat /proc/mdstat")
    mount = json.loads(bed.out("findmnt -J -o FSTYPE,OPTIONS /raid"))["filesystems"][0]
    assert mount["fstype"] == "xfs" and "prjquota" in mount["options"].split(",")
    assert bed.out("systemctl is-active docker") == "active"
    # Wait for dockerd's restart policy to bring every tenant back (deadline, not a sleep).
    bed.ssh("for i in $(seq 1 120); do "
            "[ \"$(docker ps -q --filter label=gpulab.tenant | wc -l)\" -ge %d ] && exit 0; sleep 1; done; exit 1"
            % len(TENANTS))
    after = {n: state_of(bed, n) for n in TENANTS}
    assert after == before
    for n in TENANTS:
        assert bed.out("docker exec %s cat /data/marker" % n) == "kept-%s" % n
    # /run is a tmpfs: after the reboot the hook double's log holds only the new starts,
    # one per GPU tenant.
    calls = bed.out("cat /run/gpulab-test-double/nvidia-container-runtime-hook/calls.log").splitlines()
    assert sum(1 for c in calls if "prestart" in c) >= 2, calls
