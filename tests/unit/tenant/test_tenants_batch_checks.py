"""gpulab.dgx.tenants' checks before anything changes (tenant/batch.py, tenant/argspec.py) and its
documentation kept equal to the one-tenant module's options."""
import json
import os

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.argspec import (
    HOST_OPTIONS, TENANT_ARGUMENT_SPEC, TENANTS_DEFAULTS_SPEC, TENANTS_ITEM_SPEC, item_params)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.batch import check_items
from ansible_collections.gpulab.dgx.plugins.modules import tenant, tenants

KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB me@host")
HOST = {"topology": None, "docker_host": None, "lock_path": "/run/lock/t.lock", "lock_timeout": 5}


def item(name, **over):
    return dict({"name": name, "image": "img:1", "cpus": 1, "memory": "1G", "ssh_public_keys": [KEY]}, **over)


def test_good_items_become_specs_in_order_with_defaults_under_them():
    specs, errors = check_items([item("ta"), item("tb", pids_limit=10)], {"pids_limit": 99, "shm_size": "128M"}, HOST)
    assert errors == []
    assert [s.name for s in specs] == ["ta", "tb"]
    assert [s.pids_limit for s in specs] == [99, 10]
    assert specs[0].lock_path == "/run/lock/t.lock"


def test_ulimits_of_an_item_add_to_the_defaults():
    params = item_params({"name": "a", "ulimits": {"nofile": 1024}}, {"ulimits": {"memlock": -1}}, {})
    assert params["ulimits"] == {"memlock": -1, "nofile": 1024}


def test_every_bad_item_is_reported_with_its_field():
    specs, errors = check_items([item("ta", memory="lots"), "not a dict", item("ta"), item("ta")],
                                {}, HOST)
    assert [s.name for s in specs] == ["ta"]
    assert [e["field"] for e in errors] == ["memory", None, "name"]
    assert errors[0]["msg"].startswith("tenants[0] (ta): memory:")
    assert errors[2]["msg"] == "tenants[3] (ta): name: 'ta' is given twice (first as tenants[2])"


def test_run_options_in_defaults_are_refused_once():
    errors = check_items([item("ta"), item("tb")], {"lock_path": "/tmp/x"}, HOST)[1]
    assert len(errors) == 1 and errors[0]["field"] == "defaults" and "lock_path" in errors[0]["msg"]


PRIVATE = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----"


@pytest.mark.parametrize("where", ["item", "defaults"])
def test_a_pasted_private_key_is_never_echoed(run_module, where):
    args = {"tenants": [item("ta", ssh_public_keys=[PRIVATE])]} if where == "item" else \
        {"tenants": [{"name": "ta"}], "defaults": {"ssh_public_keys": [PRIVATE]}}
    result = run_module(tenants, args, check=True)
    assert result["failed"] is True
    assert "PRIVATE KEY" not in json.dumps(result) and "b3BlbnNzaC1rZXkt" not in json.dumps(result)


def test_the_item_options_are_the_one_tenant_options_without_the_run_or_defaults():
    assert set(TENANTS_ITEM_SPEC) == set(TENANT_ARGUMENT_SPEC) - set(HOST_OPTIONS)
    assert all("default" not in option for option in TENANTS_ITEM_SPEC.values())
    assert TENANTS_ITEM_SPEC["ssh_public_keys"]["no_log"] is True


@pytest.mark.parametrize("option,spec", [("tenants", TENANTS_ITEM_SPEC), ("defaults", TENANTS_DEFAULTS_SPEC)])
def test_documentation_matches_the_one_tenant_module(option, spec):
    one = yaml.safe_load(tenant.DOCUMENTATION)["options"]
    batch = yaml.safe_load(tenants.DOCUMENTATION)["options"][option]["suboptions"]
    assert set(batch) == set(spec)
    for name, option in batch.items():
        assert option["type"] == one[name]["type"], name
        assert "default" not in option, name
        first = one[name]["description"]
        first = first if isinstance(first, list) else [first]
        assert option["description"][0].split("O(")[0] == first[0].split("O(")[0], name


VALUES = st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=6), st.lists(st.text(max_size=4), max_size=2))
ITEMS = st.one_of(st.none(), st.text(max_size=5),
                  st.dictionaries(st.sampled_from(sorted(TENANTS_ITEM_SPEC)), VALUES, max_size=5))


@settings(max_examples=int(os.environ.get("GPULAB_PROPERTY_EXAMPLES", "200")), deadline=None)
@given(st.lists(ITEMS, max_size=4))
def test_any_list_is_turned_into_specs_or_named_errors(items):
    specs, errors = check_items(items, {}, HOST)
    assert len(specs) + len({e["item"] for e in errors}) == len(items)
    for error in errors:
        assert error["msg"].startswith("tenants[")
