"""gpulab.dgx.tenants: a host's whole list in one module run against the real dockerd. What only a
batch can show (every other behaviour is shown by running the whole tenant suite through the batch
module, GPULAB_TENANT_PATH=batch): tenants of one list placed around each other, in check mode as in
a real run; every bad item reported before anything changes; one tenant's failure undone while the
others keep their work; a second run of the same list changing nothing; removal in the same list."""
import contextlib
import io
import json
import os

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


def test_failures_among_parallel_creations_are_undone_alone(docker_client, tenant_host):
    # The host dockerd has no nvidia hook: Docker refuses the GPU tenants at start, while the others
    # are created and started beside them (parallel 4). Each failure is undone on its own: its
    # container and data directory go, the others' stay, and so does the data base they share.
    topology = gpu_topology(2)
    names = ["p0", "gpu0", "p1", "p2", "gpu1", "p3"]
    items, host = split([tenant_host(n, cpus=1 if n.startswith("gpu") else 0, gpus=1 if n.startswith("gpu") else 0,
                                     topology=topology) for n in names])
    result = run_batch(items, parallel=4, **host)
    assert result["failed"] is True, result
    assert sorted(result["failed_tenants"]) == [PREFIX + "gpu0", PREFIX + "gpu1"], result
    assert result["order"] == [PREFIX + n for n in names]
    for name in ("gpu0", "gpu1"):
        failed = result["tenants"][PREFIX + name]
        assert failed["field"] == "gpus" and any("removed container" in u for u in failed["undone"]), failed
        assert "removed directory %s/%s" % (items[0]["data_base"], PREFIX + name) in failed["undone"], failed
        assert failed["not_undone"] == [], failed
        assert not os.path.exists(os.path.join(items[0]["data_base"], PREFIX + name))
    kept = [PREFIX + n for n in names if not n.startswith("gpu")]
    assert all(result["tenants"][n]["changed"] and not result["tenants"][n]["failed"] for n in kept), result
    assert ours(docker_client) == sorted(kept)
    assert all(docker_client.containers.get(n).status == "running" for n in kept)
    assert sorted(os.listdir(items[0]["data_base"])) == sorted(kept)


@pytest.mark.parametrize("parallel", [1, 4])
def test_parallelism_does_not_change_the_placement(docker_client, tenant_host, parallel):
    cpus = max(1, len(HOST_CPUS) // 2)
    items, host = split([tenant_host("q%d" % i, cpus=cpus if i < 2 else 0) for i in range(5)])
    planned = run_batch(items, check=True, parallel=parallel, **host)
    done = run_batch(items, parallel=parallel, **host)
    assert not done.get("failed"), done
    for item in items:
        want, got = planned["tenants"][item["name"]]["tenant"], done["tenants"][item["name"]]["tenant"]
        assert (got["cpuset"], got["ssh_port"]) == (want["cpuset"], want["ssh_port"]), (got, want)
    assert len(set(done["tenants"][i["name"]]["tenant"]["ssh_port"] for i in items)) == len(items)


def test_a_whole_list_removed_in_one_run(docker_client, tenant_host):
    items, host = split([tenant_host("r%d" % i, cpus=0) for i in range(5)])
    assert not run_batch(items, **host).get("failed")
    gone = [{"name": i["name"], "state": "absent", "data_base": i["data_base"], "purge": True} for i in items]
    result = run_batch(gone, parallel=4, **host)
    assert not result.get("failed"), result
    assert all(result["tenants"][i["name"]]["actions"] == ["remove", "purge"] for i in items), result
    assert ours(docker_client) == [] and os.listdir(items[0]["data_base"]) == []
    assert run_batch(gone, parallel=4, **host)["changed"] is False


def test_a_removal_before_a_creation_frees_its_cpus_for_it(docker_client, tenant_host):
    cpus = len(HOST_CPUS)
    old, host = split([tenant_host("old", cpus=cpus)])
    assert not run_batch(old, **host).get("failed")
    new = split([tenant_host("new", cpus=cpus)])[0]
    items = [{"name": PREFIX + "old", "state": "absent", "data_base": old[0]["data_base"]}] + new
    result = run_batch(items, parallel=4, **host)
    assert not result.get("failed"), result
    assert ours(docker_client) == [PREFIX + "new"]


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
