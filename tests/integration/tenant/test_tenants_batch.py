"""gpulab.dgx.tenants: a host's whole list in one module run against the real dockerd. What only a
batch can show (every other behaviour is shown by running the whole tenant suite through the batch
module, GPULAB_TENANT_PATH=batch): tenants of one list placed around each other, in check mode as in
a real run; every bad item reported before anything changes; one tenant's failure undone while the
others keep their work; a second run of the same list changing nothing; removal in the same list."""
import contextlib
import io
import json

import pytest

from tenant_helpers import HOST_CPUS, PREFIX, gpu_topology, remove_test_containers


@pytest.fixture(autouse=True)
def no_test_tenants_before(docker_client):
    """Start from no test tenant (an earlier test may leave some until the session ends)."""
    remove_test_containers(docker_client)


def run_batch(tenants, check=False, **host):
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.gpulab.dgx.plugins.modules import tenants as module
    out = io.StringIO()
    with patch_module_args(dict(host, tenants=tenants, _ansible_check_mode=check, _ansible_diff=True)), \
            contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    return json.loads(out.getvalue())


def split(args_list):
    """tenant_host() argument dicts -> (the list's items, the run's host options)."""
    host_keys = ("topology", "lock_path", "docker_host", "lock_timeout")
    host = dict((k, args_list[0][k]) for k in host_keys if k in args_list[0])
    return [dict((k, v) for k, v in a.items() if k not in host_keys) for a in args_list], host


def ours(client):
    return sorted(c.name for c in client.containers.list(all=True) if c.name.startswith(PREFIX))


def test_a_list_is_placed_around_itself_in_check_mode_and_for_real(docker_client, tenant_host):
    cpus = max(1, len(HOST_CPUS) // 2)
    items, host = split([tenant_host("b%d" % i, cpus=cpus) for i in range(2)])
    planned = run_batch(items, check=True, **host)
    assert not planned.get("failed"), planned
    assert planned["order"] == [PREFIX + "b0", PREFIX + "b1"] and planned["changed"] is True
    sets = [set(planned["tenants"][i["name"]]["tenant"]["cpuset"].split(",")) for i in items]
    assert not sets[0] & sets[1], sets  # the second is placed around what the first would get
    assert ours(docker_client) == []
    done = run_batch(items, **host)
    assert not done.get("failed"), done
    got = [done["tenants"][i["name"]]["tenant"]["cpuset"] for i in items]
    assert got == [planned["tenants"][i["name"]]["tenant"]["cpuset"] for i in items]
    assert ours(docker_client) == [PREFIX + "b0", PREFIX + "b1"]
    again = run_batch(items, **host)
    assert again["changed"] is False and not any(r["changed"] for r in again["tenants"].values()), again


def test_every_bad_item_is_named_and_nothing_changes(docker_client, tenant_host):
    items, host = split([tenant_host("ok"), tenant_host("bad1", memory="lots"), tenant_host("bad2", gpus=-1),
                         tenant_host("ok")])
    result = run_batch(items, **host)
    assert result["failed"] is True
    text = result["msg"]
    assert "tenants[1] (%sbad1): memory:" % PREFIX in text
    assert "tenants[2] (%sbad2): gpus:" % PREFIX in text
    assert "tenants[3] (%sok): name: %r is given twice (first as tenants[0])" % (PREFIX, PREFIX + "ok") in text
    assert [e["field"] for e in result["errors"]] == ["memory", "gpus", "name"]
    assert ours(docker_client) == []


def test_one_failure_is_undone_and_the_others_keep_their_work(docker_client, tenant_host):
    # The host dockerd has no nvidia hook: Docker refuses the GPU tenant at start.
    items, host = split([tenant_host("first"), tenant_host("gpu", gpus=1, topology=gpu_topology(2)),
                         tenant_host("last")])
    host["topology"] = gpu_topology(2)
    result = run_batch(items, **host)
    assert result["failed"] is True and result["failed_tenants"] == [PREFIX + "gpu"], result
    failed = result["tenants"][PREFIX + "gpu"]
    assert failed["field"] == "gpus" and any("removed container" in u for u in failed["undone"]), failed
    assert result["tenants"][PREFIX + "first"]["changed"] and result["tenants"][PREFIX + "last"]["changed"]
    assert ours(docker_client) == [PREFIX + "first", PREFIX + "last"]


def test_removal_in_the_same_list(docker_client, tenant_host):
    items, host = split([tenant_host("keep"), tenant_host("go")])
    assert not run_batch(items, **host).get("failed")
    items[1] = {"name": PREFIX + "go", "state": "absent", "data_base": items[1]["data_base"]}
    result = run_batch(items, **host)
    assert not result.get("failed"), result
    assert result["tenants"][PREFIX + "go"]["actions"] == ["remove"]
    assert result["tenants"][PREFIX + "keep"]["changed"] is False
    assert ours(docker_client) == [PREFIX + "keep"]


def test_defaults_fill_what_items_leave_out(docker_client, tenant_host):
    items, host = split([tenant_host("d1"), tenant_host("d2")])
    shared = dict((k, items[0].pop(k)) for k in ("image", "memory", "network", "data_base", "ulimits"))
    for item in items[1:]:
        for key in shared:
            item.pop(key)
    result = run_batch(items, check=True, defaults=dict(shared, pids_limit=1234), **host)
    assert not result.get("failed"), result
    for item in items:
        assert result["tenants"][item["name"]]["tenant"]["pids_limit"] == 1234
