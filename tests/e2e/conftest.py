"""End-to-end suite on the fresh-DGX test-bed VM (docs/testbed.md).

One VM is booted for the whole session (scripts/vm/boot.sh: a clean overlay of the cached image,
four blank NVMe drives, two NUMA nodes) and stopped at the end. The test files run in name order
and form one story: bring-up, tenants, disk limits, reboot, removal. A step that needs an earlier
one skips, naming it, when that one failed; scripts/e2e.sh fails the run on any failure.

Environment:
  GPULAB_E2E_RUN    run directory of the VM (default .cache/vm/e2e)
  GPULAB_E2E_REUSE  1: use the VM already running from GPULAB_E2E_RUN instead of booting one
                    (the suite then does not stop it, unless GPULAB_E2E_STOP is 1: make test
                    boots the VM while the unit tests run, scripts/test-all.sh)
  GPULAB_E2E_KEEP   1: leave the VM running after the session (to look around; stop it with
                    scripts/vm/stop.sh .cache/vm/e2e)
"""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from testbed import REPO, VM_SCRIPTS, TestBed, tenant_specs


def pytest_collection_modifyitems(items):
    # The story's order is the files' order; keep it even if a plugin reorders.
    items.sort(key=lambda item: (str(item.fspath), item.location[1]))


@pytest.fixture(scope="session")
def bed():
    run = Path(os.environ.get("GPULAB_E2E_RUN", str(REPO / ".cache" / "vm" / "e2e"))).resolve()
    env = dict(os.environ, GPULAB_VM_RUN=str(run))
    running = subprocess.run([str(VM_SCRIPTS / "stop.sh"), "--running", str(run)], check=False).returncode == 0
    reuse = os.environ.get("GPULAB_E2E_REUSE") == "1" and running
    timings = {}
    if not reuse:
        start = time.monotonic()
        subprocess.run([str(VM_SCRIPTS / "build-image.sh")], env=env, check=True, stdout=subprocess.DEVNULL)
        timings["image (build or cache hit)"] = time.monotonic() - start
        start = time.monotonic()
        subprocess.run([str(VM_SCRIPTS / "boot.sh")], env=env, check=True)
        timings["boot to SSH"] = time.monotonic() - start
    testbed = TestBed(run)
    testbed.timings.update(timings)
    try:
        yield testbed
    finally:
        stop = not reuse or os.environ.get("GPULAB_E2E_STOP") == "1"
        if stop and os.environ.get("GPULAB_E2E_KEEP") != "1":
            subprocess.run([str(VM_SCRIPTS / "stop.sh"), str(run)], check=False)
        (run / "timings.json").write_text(json.dumps(testbed.timings, indent=2))
        print("\ne2e timings (s): " + ", ".join("%s %.0f" % kv for kv in testbed.timings.items()))


@pytest.fixture(scope="session")
def steps():
    """Names of the story's steps that succeeded so far."""
    return set()


@pytest.fixture
def needs(steps):
    def _needs(*names):
        missing = [n for n in names if n not in steps]
        if missing:
            pytest.skip("needs the earlier step(s) %s, which did not succeed" % ", ".join(missing))
    return _needs


@pytest.fixture(scope="session")
def tenant_key(bed):
    key = bed.run / "tenant_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e-tenant", "-f", str(key)],
                       check=True)
    return key


@pytest.fixture(scope="session")
def tenant_vars(bed, tenant_key):
    return {"gpulab_tenants": tenant_specs(tenant_key.with_suffix(".pub").read_text().strip()),
            "tenant_handoff_dir": str(bed.run / "handoff")}
