"""The tenant role's list check and selection (filter gpulab.dgx.tenant_selection): every way the
list or tenant_only can be wrong is refused naming what is wrong; otherwise the named tenants come
back in list order, whatever the spelling of tenant_only."""
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given, strategies as st

from ansible_collections.gpulab.dgx.plugins.filter.tenant_selection import tenant_selection

NAMES = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), min_size=1, max_size=8, unique=True)


@given(NAMES, st.data())
def test_the_named_tenants_in_list_order_whatever_the_spelling(names, data):
    tenants = [{"name": n, "cpus": i} for i, n in enumerate(names)]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True))
    spelling = data.draw(st.sampled_from(["list", "commas", "spaced"]))
    only = {"list": chosen, "commas": ",".join(chosen), "spaced": " , ".join(chosen)}[spelling]
    got = tenant_selection(tenants, only)
    assert got == ([t for t in tenants if t["name"] in chosen] if chosen else tenants)


@pytest.mark.parametrize("tenants,only,words", [
    ("alice", "", "must be a list of tenant specs"),
    ([{"name": "a"}, "b"], "", "must be a list of tenant specs"),
    ([{"name": "a"}, {"cpus": 1}], "", "item(s) 1 have no name"),
    ([{"name": "a"}, {"name": ""}], "", "item(s) 1 have no name"),
    ([{"name": "a"}, {"name": "a"}], "", "name(s) a given more than once"),
    ([{"name": "a"}], "b", "tenant(s) b not in gpulab_tenants (known: a)"),
    ([{"name": "a"}], ["a", "zed"], "tenant(s) zed not in gpulab_tenants"),
    ([{"name": "a"}], {"a": 1}, "must be a name, names separated by commas, or a list"),
    ([{"name": "a"}], [1], "must be a name, names separated by commas, or a list"),
    ([], "", "gpulab_tenants is empty"),
])
def test_refusals_name_what_is_wrong(tenants, only, words):
    with pytest.raises(AnsibleFilterError) as info:
        tenant_selection(tenants, only)
    assert words in str(info.value)
