"""playbooks/site.yml and inventories/example, run through ansible-playbook (nothing is changed:
the runs stop at the input check or only list hosts and tasks)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return subprocess.run(
        [str(BIN / "ansible-playbook"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.mark.slow
def test_site_fails_clearly_without_gpulab_hosts(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    dgx-x:\n      ansible_connection: local\n", encoding="utf-8")
    result = _run("-i", str(inventory), "playbooks/site.yml")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Set gpulab_hosts" in out
    # The bring-up play never started.
    assert "Bring up the GPU hosts" not in out


@pytest.mark.slow
def test_site_lists_the_roles_in_bring_up_order():
    result = _run("-i", "inventories/example", "playbooks/site.yml", "--list-tasks")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    tasks = [
        "Check the host (GPUs, driver, kernel, filesystems)",
        "Install the NVIDIA driver",
        "Install Docker Engine",
        "Put Docker's storage on xfs with project quotas",
        "Install the NVIDIA Container Toolkit",
        "Build the tenant images",
    ]
    positions = [out.index(t) for t in tasks]
    assert positions == sorted(positions), out


@pytest.mark.slow
def test_site_selects_the_hosts_named_in_inventory_group_vars(tmp_path):
    """gpulab_hosts set in group_vars/all (as the example does) selects that group only.

    The run stops after fact gathering: --tags names no task, so only the host selection (tagged
    always) and the read-only fact gathering of the selected hosts run, over a local connection."""
    inv = tmp_path / "inv"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.yml").write_text(
        "all:\n  children:\n"
        "    dgx:\n      hosts:\n        dgx-x:\n          ansible_connection: local\n"
        "    other:\n      hosts:\n        other-y:\n          ansible_connection: local\n",
        encoding="utf-8",
    )
    (inv / "group_vars" / "all.yml").write_text("gpulab_hosts: dgx\n", encoding="utf-8")
    result = _run("-i", str(inv), "playbooks/site.yml", "--tags", "gpulab-no-such-tag",
                  "-e", f"ansible_python_interpreter={sys.executable}")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    bring_up = out[out.index("PLAY [Bring up the GPU hosts]"):out.index("PLAY RECAP")]
    assert "ok: [dgx-x]" in bring_up
    assert "other-y" not in bring_up


@pytest.mark.slow
def test_site_fails_when_gpulab_hosts_matches_nothing():
    result = _run("-i", "inventories/example", "playbooks/site.yml", "-e", "gpulab_hosts=no-such-group")
    assert result.returncode != 0
    assert "matches 0 inventory hosts" in result.stdout + result.stderr


@pytest.mark.slow
def test_site_rejects_an_empty_gpulab_hosts():
    result = _run("-i", "inventories/example", "playbooks/site.yml", "-e", "gpulab_hosts=")
    assert result.returncode != 0
    assert "Set gpulab_hosts" in result.stdout + result.stderr
