"""Property tests. gpulab.dgx.allocation_info: bad input over its argument spec fails naming the option,
never with a traceback. The renderers: any tenant names and allocations give well-formed XML (SVG) and
HTML escapes, every tenant in the legend, no tenant colour on a free GPU or CPU, a table row per tenant."""
import html.parser
import xml.etree.ElementTree as ET

import yaml
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.filter.allocation_index import allocation_index
from ansible_collections.gpulab.dgx.plugins.filter.allocation_table import allocation_table
from ansible_collections.gpulab.dgx.plugins.modules import allocation_info
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.escape import clean
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.palette import FREE, PALETTE
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.svg import render_svg
from report_helpers import Tenant, a100_two_node_topology, report_for

FIXTURE_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TOPOLOGY = a100_two_node_topology()


def assert_named(result, option):
    assert result["failed"] is True, result
    assert "exception" not in result, result
    assert option in result["msg"], result["msg"]


def test_documentation_matches_the_argument_spec():
    documented = yaml.safe_load(allocation_info.DOCUMENTATION)["options"]
    spec = dict(allocation_info.ARGUMENT_SPEC)
    spec.pop("docker_host")  # from the gpulab.dgx.docker fragment
    assert set(documented) == set(spec)
    for name, option in spec.items():
        assert documented[name]["type"] == option["type"]
        assert documented[name].get("default") == option.get("default")
        assert documented[name].get("choices") == option.get("choices")


@FIXTURE_SETTINGS
@given(st.text(max_size=12).filter(lambda v: v not in ("auto", "never")))
def test_nvml_choices(run_module, value):
    assert_named(run_module(allocation_info, {"nvml": value}), "nvml")


@FIXTURE_SETTINGS
@given(st.one_of(st.integers(), st.text(min_size=1, max_size=10).filter(lambda t: not t.strip().startswith(("{", "["))),
                 st.lists(st.integers(), min_size=1), st.fixed_dictionaries({"gpus": st.integers()}),
                 st.fixed_dictionaries({"gpus": st.just([{"index": "x"}]), "numa_nodes": st.just({})})))
def test_a_bad_topology_is_refused_naming_it(run_module, value):
    result = run_module(allocation_info, {"topology": value, "nvml": "never", "docker_host": "unix:///nonexistent.sock"})
    assert_named(result, "topology")


@FIXTURE_SETTINGS
@given(st.sampled_from(["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1", "nonsense://x"]), st.booleans())
def test_unreachable_docker_names_docker_host(run_module, host, check):
    topology = {"gpus": [], "links": {}, "siblings": [], "numa_nodes": {"0": {"cpus": [0], "distance": {"0": 10}}}}
    result = run_module(allocation_info, {"topology": topology, "docker_host": host, "nvml": "never"}, check=check)
    assert_named(result, "docker_host")
    assert host in result["msg"]


NAMES = st.one_of(st.text(min_size=1, max_size=40), st.sampled_from(["<b>bold</b>", "<script>alert(1)</script>", "a<img src=x>"]))
GPU_SETS = st.lists(st.integers(0, 7), max_size=3, unique=True)
CPU_SETS = st.lists(st.integers(0, 255), max_size=12, unique=True)


@st.composite
def allocations(draw):
    names = draw(st.lists(NAMES, min_size=1, max_size=14, unique=True))
    tenants = []
    for k, name in enumerate(names):
        tenants.append(Tenant(name, draw(GPU_SETS), draw(CPU_SETS), port=2200 + k,
                              image=draw(st.text(max_size=30)), disk=draw(st.sampled_from([None, 1 << 30]))))
    return tenants


@settings(max_examples=40, deadline=None)
@given(allocations())
def test_any_allocation_renders_to_well_formed_svg_with_every_tenant_in_the_legend(tenants):
    report = report_for(TOPOLOGY, tenants)
    drawing = render_svg(report, "h<&>\"'")
    root = ET.fromstring(drawing.svg.encode("utf-8"))  # well-formed, whatever the names hold
    legend = dict((el.get("id"), el.get("data-tenant")) for el in root.iter() if (el.get("id") or "").startswith("legend-"))
    # Every tenant, by its name as XML can hold it (characters XML forbids become U+FFFD).
    assert sorted(v for k, v in legend.items() if k != "legend-free") == sorted(clean(t["name"]) for t in report["tenants"])
    held_gpus = set(g["index"] for g in report["gpus"] if g["tenants"])
    held_cpus = set(c for t in report["tenants"] for c in t["cpus"])
    for gpu in report["gpus"]:
        fill = drawing.probes["gpu-%d" % gpu["index"]][2]
        assert (fill == FREE) == (gpu["index"] not in held_gpus)
        assert (fill in PALETTE) == (gpu["index"] in held_gpus)
    for node in report["numa_nodes"]:
        for cpu in node["cpus"]:
            fill = drawing.probes["cpu-%d" % cpu][2]
            assert (fill == FREE) == (cpu not in held_cpus)


@settings(max_examples=40, deadline=None)
@given(allocations())
def test_any_allocation_gives_a_table_row_per_tenant_and_an_escaped_index(tenants):
    report = report_for(TOPOLOGY, tenants)
    table = allocation_table(report, "host")
    rows = table.split("Free per NUMA node:", maxsplit=1)[0].splitlines()[4:]
    assert len([r for r in rows if r.strip()]) == len(report["tenants"])
    # Names are text, never markup: the page has the same elements as one whose tenants have plain names.
    page = allocation_index({"h": report})
    plain = report_for(TOPOLOGY, [Tenant("t%d" % k, t.gpus, t.cpus, port=t.port) for k, t in enumerate(tenants)])
    assert element_counts(page) == element_counts(allocation_index({"h": plain}))


def element_counts(page):
    counts = {}

    class Counter(html.parser.HTMLParser):
        def handle_starttag(self, tag, attrs):
            counts[tag] = counts.get(tag, 0) + 1

    Counter().feed(page)
    return counts


@pytest.mark.parametrize("text", ["img\u2028name", "img\u2029name", "img\x85name", "img\nname", "img\x1cname"])
def test_a_line_break_of_any_kind_stays_inside_its_cell(text):
    from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.table import plain
    out = plain(text)
    assert len(out) == len("img?name") and out.startswith("img") and out.endswith("name") and len(out.splitlines()) == 1
