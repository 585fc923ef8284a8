"""module_utils/tenant/verify.py and probe.py: what a container read from inside is compared with
(every field of the placement, each difference named), the polling until sshd listens (bounded by
the timeout, on a test clock), the bound on threads, and the probe program itself (shellcheck)."""
import shutil
import subprocess
import threading

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.probe import PROBE_SCRIPT
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.verify import (
    POLL_INTERVAL, describe, in_threads, mismatches, verify_all)

MIB = 1024 * 1024


@st.composite
def placements(draw):
    """A tenant's placement (the module's `tenant` result) and the reading of a container that holds it."""
    gpus = draw(st.lists(st.sampled_from(["GPU-%d" % i for i in range(8)]), unique=True, max_size=4))
    cpus = draw(st.integers(0, 8))
    cpuset = ",".join(str(c) for c in range(cpus))
    memlock = draw(st.sampled_from([-1, 8 * MIB, 64 * MIB]))
    stack = draw(st.sampled_from([-1, 8 * MIB, 64 * MIB]))
    want = {
        "name": "t", "container_id": "c", "gpus": gpus, "cpus": cpus, "cpuset": cpuset,
        "cpu_quota": cpus * 100000, "cpu_period": 100000, "memory_bytes": draw(st.integers(1, 2 ** 40)),
        "disk_enforced": draw(st.booleans()), "disk_bytes": draw(st.integers(MIB, 2 ** 40)),
        "shm_size_bytes": draw(st.integers(1, 2 ** 36)) * 4096, "shm_size": "x",
        "ulimits": {"memlock": {"soft": memlock, "hard": memlock}, "stack": {"soft": stack, "hard": stack}},
    }

    def kib(value):
        return "unlimited" if value == -1 else str(value // 1024)

    reading = {
        "nvidia_visible_devices": ",".join(gpus) if gpus else "void",
        "nvidia_smi_gpus": draw(st.sampled_from(["absent", str(len(gpus))])),
        "nvidia_smi_mig": draw(st.sampled_from(["absent", "0"])),
        "gpu_nodes": str(draw(st.integers(0, len(gpus)))),
        "cpuset": cpuset if cpus else draw(st.sampled_from(["0-63", ""])),
        "cpu_quota": str(want["cpu_quota"] if cpus else -1), "cpu_period": "100000",
        "memory_limit": str(want["memory_bytes"]), "root_size": str(want["disk_bytes"]), "root_size_human": "1G",
        "shm_size": str(want["shm_size_bytes"]), "memlock_kib": kib(memlock), "stack_kib": kib(stack),
        "sshd_listening": "yes",
    }
    return want, reading


# Each field of a reading, a wrong value for it, and the words its difference is named by.
WRONG = {
    "nvidia_visible_devices": ("all", "NVIDIA_VISIBLE_DEVICES"),
    "nvidia_smi_gpus": ("9", "nvidia-smi -L"),
    "nvidia_smi_mig": ("3", "MIG devices listed by nvidia-smi -L"),
    "gpu_nodes": ("99", "/dev/nvidiaN device nodes"),
    "cpuset": ("99", "cpuset"),
    "cpu_quota": ("7", "CPU quota"),
    "cpu_period": ("7", "CPU period"),
    "memory_limit": ("-1", "memory limit"),
    "root_size": (str(2 ** 50), "size of /"),
    "shm_size": ("1", "size of /dev/shm"),
    "memlock_kib": ("1", "ulimit -l"),
    "stack_kib": ("1", "ulimit -s"),
    "sshd_listening": ("no", "sshd listening"),
}


@settings(max_examples=200, deadline=None)
@given(placements())
def test_a_container_that_holds_its_placement_passes(case):
    want, reading = case
    assert mismatches(reading, want) == []
    assert describe(reading, want).endswith("sshd listening")


@settings(max_examples=300, deadline=None)
@given(placements(), st.sampled_from(sorted(WRONG)))
def test_every_field_that_differs_is_named(case, field):
    want, reading = case
    value, words = WRONG[field]
    ignored = (field in ("cpuset", "cpu_quota", "cpu_period") and not want["cpus"]) or \
        (field == "root_size" and not want["disk_enforced"])
    found = mismatches(dict(reading, **{field: value}), want)
    if ignored:  # a CPU-less tenant is not pinned; a disk not enforced is not measured
        assert found == []
    else:
        assert len(found) == 1 and words in found[0], found
    missing = mismatches(dict((k, v) for k, v in reading.items() if k != field), want)
    assert len(missing) == (0 if ignored else 1), missing


def test_an_unreadable_container_is_one_difference_naming_why():
    assert mismatches({"error": "docker exec failed: gone"}, {}) == ["docker exec failed: gone"]


class Clock(object):
    """A test clock: pause() moves it on instead of sleeping."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def pause(self, seconds):
        self.now += seconds


@given(placements(), st.integers(0, 12), st.integers(0, 5))
def test_a_container_is_read_again_until_sshd_listens_or_time_is_up(case, late, timeout):
    want, reading = case
    reads = []
    clock = Clock()

    def read(container_id):
        reads.append(clock())
        return dict(reading, sshd_listening="yes" if len(reads) > late else "no")

    found = verify_all([want], read, parallel=2, timeout=timeout, clock=clock, pause=clock.pause)
    polls_allowed, waited = 0, 0.0
    while waited < timeout:  # the pauses that fit in the timeout, added up as the clock adds them
        waited += POLL_INTERVAL
        polls_allowed += 1
    if late <= polls_allowed:
        assert found["t"] == (dict(reading, sshd_listening="yes"), []) and len(reads) == late + 1
    else:
        assert found["t"][1] == ["sshd listening on port 22: wanted yes, found no"]
        assert len(reads) == polls_allowed + 1 and reads[-1] >= timeout


@given(st.integers(1, 9), st.integers(0, 30))
def test_never_more_threads_than_asked_and_every_item_once(parallel, count):
    busy, most, seen = [0], [0], []
    guard = threading.Lock()
    release = threading.Event()
    started = threading.Semaphore(0)

    def work(item):
        with guard:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        started.release()
        release.wait()
        with guard:
            busy[0] -= 1
            seen.append(item)

    runner = threading.Thread(target=in_threads, args=(work, list(range(count)), parallel))
    runner.start()
    for dummy in range(min(parallel, count)):  # as many as allowed are at work at once ...
        assert started.acquire(timeout=10)
    release.set()
    runner.join(10)
    assert not runner.is_alive()
    assert sorted(seen) == list(range(count)) and most[0] == min(parallel, count)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_the_probe_is_clean_posix_sh():
    out = subprocess.run(["shellcheck", "-s", "sh", "-"], input=PROBE_SCRIPT, universal_newlines=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert out.returncode == 0, out.stdout


def test_the_probe_prints_one_json_object_on_this_machine():
    import json
    out = subprocess.run(["sh", "-c", PROBE_SCRIPT], stdout=subprocess.PIPE, universal_newlines=True, check=True)
    reading = json.loads(out.stdout)
    assert set(reading) == set(WRONG) | {"root_size_human"}


@settings(max_examples=50, deadline=None)
@given(placements())
def test_two_mig_instances_of_one_gpu_read_as_one_gpu_and_two_mig_devices(case):
    want, reading = case
    mig = ["MIG-feb88891-0321-5fef-9c87-d4af3b54259e", "MIG-a25704ba-3a06-5299-a795-fd7cf4d13973"]
    want = dict(want, gpus=mig, gpu_indices=[3])
    reading = dict(reading, nvidia_visible_devices=",".join(mig), nvidia_smi_gpus="1", nvidia_smi_mig="2", gpu_nodes="1")
    assert mismatches(reading, want) == []
    assert "MIG devices listed by nvidia-smi -L: wanted 2, found 1" in mismatches(dict(reading, nvidia_smi_mig="1"), want)
    # A container that sees every GPU of an 8-GPU host (privileged) is caught.
    assert any("/dev/nvidiaN device nodes: wanted at most 1" in m for m in mismatches(dict(reading, gpu_nodes="8"), want))
