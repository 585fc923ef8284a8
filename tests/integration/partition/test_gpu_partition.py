"""gpulab.dgx.gpu_partition on the nvidia-smi MIG TEST DOUBLE (a stateful stand-in for nvidia-smi; no GPU here)
with the tenant ledger of a real dockerd: apply, apply again (nothing), refuse while a tenant holds an instance,
put back a run that fails midway, and re-create the instances after a reboot."""

import contextlib
import io
import json

import pytest

from tenant_helpers import run_module as run_tenant

pytestmark = [pytest.mark.docker]

LAYOUTS = {
    "version": "v1",
    "mig-configs": {
        "students": [{"devices": [0, 1], "mig-enabled": False},
                     {"devices": [2], "mig-enabled": True, "mig-devices": {"1g.10gb": 7}},
                     {"devices": [3], "mig-enabled": True, "mig-devices": {"3g.40gb": 2}}],
        "all-1g": [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": 7}}],
        "bad-profile": [{"devices": [0], "mig-enabled": True, "mig-devices": {"1g.10gb": 1}},
                        {"devices": [1], "mig-enabled": True, "mig-devices": {"1g.99gb": 1}}],
    },
}


def partition(name, docker_host, check=False, config=None):
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.gpulab.dgx.plugins.modules import gpu_partition
    out = io.StringIO()
    args = {"name": name, "config": LAYOUTS if config is None else config, "docker_host": docker_host,
            "_ansible_check_mode": check}
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            gpu_partition.main()
        except SystemExit:
            pass
    return json.loads(out.getvalue())


def layout_of(result):
    return dict((g["index"], sorted(i["profile"] for i in g.get("mig_instances") or []) if g["mig_mode"] == "Enabled" else None)
                for g in result["gpus"])


def test_apply_again_refuse_while_held_and_reapply_after_reboot(smi_double, gpu_host, gpu_containers, tenant_host):
    planned = partition("students", gpu_host.host, check=True)
    assert planned["changed"] and [c["gpu"] for c in planned["changes"]] == [2, 3], planned
    assert smi_double.changing_calls() == []  # check mode runs no changing command

    done = partition("students", gpu_host.host)
    assert done["changed"] and not done.get("failed"), done
    assert layout_of(done) == {0: None, 1: None, 2: ["1g.10gb"] * 7, 3: ["3g.40gb"] * 2}
    calls = len(smi_double.changing_calls())
    again = partition("students", gpu_host.host)
    assert again["changed"] is False and again["changes"] == [] and len(smi_double.changing_calls()) == calls

    # A tenant takes a 3g.40gb instance: its MIG UUID comes from the same reader, through the tenant module.
    args = tenant_host("part-a", gpus=0, cpus=1, mig={"profile": "3g.40gb"}, docker_host=gpu_host.host, topology=None)
    tenant = run_tenant(args)
    assert not tenant.get("failed"), tenant.get("msg")
    held = tenant["tenant"]["gpus"][0]
    assert held in [i["uuid"] for i in done["gpus"][3]["mig_instances"]]

    refused = partition("all-1g", gpu_host.host)
    assert refused.get("failed") and refused["msg"].startswith("nothing was changed: GPU 3 is held by tenant %s" % args["name"])
    assert len(smi_double.changing_calls()) == calls  # refused before anything ran

    # A reboot: MIG mode stays, instances go. Another layout for GPU 3 would lose the slot the tenant waits for.
    container = gpu_containers.containers.get(args["name"])
    container.exec_run(["sh", "-c", "echo kept > /tmp/layer"])
    slots = container.labels["gpulab.mig-slots"].split(",")
    assert slots == ["GPU-00000003-0000-4000-8000-000000000000/3g.40gb/%d" % [i["uuid"] for i in done["gpus"][3]["mig_instances"]].index(held)]
    smi_double.reboot()
    calls = len(smi_double.changing_calls())
    refused = partition("all-1g", gpu_host.host)
    assert refused.get("failed") and "GPU 3: tenant %s waits for its MIG instance(s)" % args["name"] in refused["msg"], refused
    assert len(smi_double.changing_calls()) == calls
    planned = partition("students", gpu_host.host, check=True)
    assert planned["remapped"] == [] or all(r["tenant"] == args["name"] for r in planned["remapped"])

    # Applying the layout again re-creates the instances (new UUIDs, as NVIDIA's) and moves the tenant onto the
    # one now in its slot: its container made again from its own configuration, the same spec hash.
    back = partition("students", gpu_host.host)
    assert back["changed"] and layout_of(back) == layout_of(done), back
    new_uuids = [i["uuid"] for i in back["gpus"][3]["mig_instances"]]
    assert held not in new_uuids
    (moved,) = back["remapped"]
    assert moved["tenant"] == args["name"] and moved["before"] == [held]
    assert moved["after"] == [new_uuids[int(slots[0].rsplit("/", 1)[1])]]
    now = gpu_containers.containers.get(args["name"])
    assert now.id != container.id and now.status == "running"
    assert now.attrs["HostConfig"]["DeviceRequests"][0]["DeviceIDs"] == moved["after"]
    assert now.labels["gpulab.gpus"] == moved["after"][0]
    assert now.labels["gpulab.spec-hash"] == container.labels["gpulab.spec-hash"]
    assert now.attrs["HostConfig"]["CpusetCpus"] == container.attrs["HostConfig"]["CpusetCpus"]
    assert now.attrs["HostConfig"]["PortBindings"] == container.attrs["HostConfig"]["PortBindings"]
    assert [c.name for c in gpu_containers.containers.list(all=True) if c.name.startswith(args["name"])] == [args["name"]]
    # The tenant module agrees: nothing to change; and a second apply has nothing to move.
    again = run_tenant(args)
    assert not again.get("failed") and again["changed"] is False, again["diff"]
    assert partition("students", gpu_host.host)["remapped"] == []


def test_a_run_that_fails_midway_puts_back_what_it_changed(smi_double, gpu_host):
    result = partition("bad-profile", gpu_host.host)
    assert result.get("failed")
    assert "nvidia-smi mig -i 1 -cgi 1g.99gb -C failed on GPU 1: Unable to create a GPU instance" in result["msg"], result["msg"]
    assert "put back" in result["msg"]
    state = smi_double.read()
    assert [(g["mig"], g["instances"]) for g in state["gpus"][:2]] == [(False, []), (False, [])]  # both as before


def test_a_gpu_that_will_not_change_mode_names_the_usual_holders(smi_double, gpu_host):
    state = smi_double.read()
    state["fail"] = {"-mig": "Unable to enable MIG Mode for GPU 00000000:09:00.0: In use by another client"}
    smi_double.write(state)
    result = partition("students", gpu_host.host)
    assert result.get("failed") and "In use by another client" in result["msg"]
    assert "stop nvidia-persistenced" in result["msg"]


@pytest.mark.parametrize("name, config, words", [
    ("nope", LAYOUTS, "name: 'nope' is not a layout of config.mig-configs (all-1g, bad-profile, students)"),
    ("x", {"version": "v1", "mig-configs": {"x": [{"devices": [7], "mig-enabled": False}]}},
     "config.mig-configs.x[0].devices: 7 is not a GPU of this host (0,1,2,3)"),
])
def test_bad_layouts_fail_before_anything_changes(smi_double, gpu_host, name, config, words):
    result = partition(name, gpu_host.host, config=config)
    assert result.get("failed") and result["msg"] == words, result
    assert smi_double.changing_calls() == []


def test_the_boot_command_restores_the_instances_then_moves_the_tenants(smi_double, gpu_host, gpu_containers, tenant_host, tmp_path):
    """gpulab-mig as its two units run it at boot (roles/gpu_partition), from the zip the role ships, with Ansible
    out of reach: restore before Docker would start tenants, remap once it runs."""
    from boot_command import pack, run_command

    lib = pack(str(tmp_path / "lib"))
    config = tmp_path / "mig.json"
    config.write_text(json.dumps({"config": LAYOUTS, "name": "students", "docker_host": gpu_host.host}))
    assert not partition("students", gpu_host.host).get("failed")
    args = [tenant_host("boot-%s" % name, gpus=0, cpus=1, mig={"profile": "1g.10gb", "count": count},
                        docker_host=gpu_host.host, topology=None) for name, count in (("a", 2), ("b", 1))]
    before = {}
    for arg in args:
        result = run_tenant(arg)
        assert not result.get("failed"), result.get("msg")
        before[arg["name"]] = result["tenant"]["gpus"]
    first = gpu_containers.containers.get(args[0]["name"])
    assert first.exec_run(["sh", "-c", "echo kept > %s/kept" % "/data"]).exit_code == 0

    smi_double.reboot()
    nothing = run_command(lib, str(config), "remap")  # instances not back yet: every tenant's slot is missing
    assert nothing.returncode == 1 and nothing.stdout.count("are not in the GPUs' layout now") == 2, nothing
    restored = run_command(lib, str(config), "restore")
    assert restored.returncode == 0 and restored.stdout.count("created again: nvidia-smi mig -i") == 2, restored
    planned = run_command(lib, str(config), "--check", "remap")
    assert planned.returncode == 0 and planned.stdout.count("would move tenant") == 2, planned
    assert dict((c.name, c.id) for c in gpu_containers.containers.list(all=True) if c.name in before) == \
        dict((a["name"], gpu_containers.containers.get(a["name"]).id) for a in args)

    moved = run_command(lib, str(config), "remap")
    assert moved.returncode == 0 and moved.stderr == "", moved
    uuids = set(i["uuid"] for g in smi_double.read()["gpus"] for i in g["instances"])
    for arg in args:
        container = gpu_containers.containers.get(arg["name"])
        ids = container.attrs["HostConfig"]["DeviceRequests"][0]["DeviceIDs"]
        assert container.status == "running" and len(ids) == len(before[arg["name"]])
        assert set(ids) <= uuids and not set(ids) & set(before[arg["name"]])
        assert "moved tenant %s: %s -> %s" % (arg["name"], ",".join(before[arg["name"]]), ",".join(ids)) in moved.stdout
    all_ids = [i for a in args for i in gpu_containers.containers.get(a["name"]).attrs["HostConfig"]["DeviceRequests"][0]["DeviceIDs"]]
    assert len(all_ids) == len(set(all_ids)) == 3  # no instance handed out twice
    kept = gpu_containers.containers.get(args[0]["name"]).exec_run(["cat", "/data/kept"])
    assert kept.exit_code == 0 and kept.output == b"kept\n"  # /data is the same directory
    again = run_command(lib, str(config), "remap")
    assert again.returncode == 0 and "no MIG tenant to move" in again.stdout
    for arg in args:
        assert run_tenant(arg)["changed"] is False
