"""The renderers (filters allocation_svg, allocation_table, allocation_index) over real topology
samples: well-formed SVG (xmllint), rendered to PNG by rsvg-convert and read back pixel by pixel, the
table's columns, the index page, and bad input failing with the field named."""
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gpulab.dgx.plugins.filter.allocation_index import allocation_index
from ansible_collections.gpulab.dgx.plugins.filter.allocation_svg import allocation_svg
from ansible_collections.gpulab.dgx.plugins.filter.allocation_table import allocation_table
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.palette import FREE, PALETTE
from ansible_collections.gpulab.dgx.plugins.plugin_utils.report.svg import render_svg
from png_pixels import read_png, rgb
from report_helpers import Tenant, a100_topology, fixture_topology, report_for, sixteen_gpu_topology, three_tenants_a100

SVG_NS = "{http://www.w3.org/2000/svg}"


def tool(name, package):
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is missing: install Debian's `%s` (scripts/setup-system.sh, `make setup`)" % (name, package))
    return path


def xmllint(path):
    done = subprocess.run([tool("xmllint", "libxml2-utils"), "--noout", str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert done.returncode == 0 and not done.stdout, done.stdout


def render_png(drawing, tmp_path, name="map"):
    svg = tmp_path / (name + ".svg")
    svg.write_text(drawing.svg, encoding="utf-8")
    xmllint(svg)
    png = tmp_path / (name + ".png")
    subprocess.run([tool("rsvg-convert", "librsvg2-bin"), str(svg), "-o", str(png)], check=True)
    return read_png(str(png))


def by_id(svg):
    root = ET.fromstring(svg.encode("utf-8"))
    return dict((el.get("id"), el) for el in root.iter() if el.get("id"))


@pytest.mark.parametrize("case", ["a100-2-nodes", "a100-8-nodes", "16-gpus"])
def test_tenant_colours_at_their_gpus_and_cores_in_the_rendered_png(tmp_path, case):
    if case == "a100-2-nodes":
        topology, tenants = three_tenants_a100()
    elif case == "a100-8-nodes":
        topology = a100_topology()
        tenants = [Tenant("alice", [0, 1], list(range(48, 56)) + list(range(176, 184))), Tenant("bob", [6], list(range(80, 88)))]
    else:
        topology = sixteen_gpu_topology()
        tenants = [Tenant("t%02d" % i, [i], [i * 3, i * 3 + 1, 96 + i * 3]) for i in range(13)]
    report = report_for(topology, tenants)
    drawing = render_svg(report, case)
    width, height, pixel = render_png(drawing, tmp_path)
    assert (width, height) == (drawing.width, drawing.height)
    colours = dict((t.name, PALETTE[k % len(PALETTE)]) for k, t in enumerate(sorted(tenants, key=lambda t: t.name)))
    for tenant in tenants:
        for gpu in tenant.gpus:
            for eid in ("gpu-%d" % gpu, "links-gpu-%d" % gpu):
                x, y, fill = drawing.probes[eid]
                assert fill == colours[tenant.name] and pixel(x, y) == rgb(fill), (eid, tenant.name)
        for cpu in tenant.cpus:
            x, y, fill = drawing.probes["cpu-%d" % cpu]
            assert fill == colours[tenant.name] and pixel(x, y) == rgb(fill), (cpu, tenant.name)
    held = set(g for t in tenants for g in t.gpus)
    free_gpus = [g["index"] for g in topology["gpus"] if g["index"] not in held]
    assert free_gpus
    for gpu in free_gpus:
        x, y, fill = drawing.probes["gpu-%d" % gpu]
        assert fill == FREE and pixel(x, y) == rgb(FREE)
    held_cpus = set(c for t in tenants for c in t.cpus)
    some_free = [c for c in range(256) if "cpu-%d" % c in drawing.probes and c not in held_cpus][:20]
    for cpu in some_free:
        x, y, _fill = drawing.probes["cpu-%d" % cpu]
        assert pixel(x, y) == rgb(FREE)
    for k, tenant in enumerate(sorted(tenants, key=lambda t: t.name)):  # legend swatches
        x, y, fill = drawing.probes["legend-%d" % k]
        assert pixel(x, y) == rgb(colours[tenant.name])


def test_every_cpu_and_gpu_is_drawn_once_inside_its_numa_box():
    topology, tenants = three_tenants_a100()
    drawing = render_svg(report_for(topology, tenants))
    elements = by_id(drawing.svg)
    for node in ("0", "1"):
        box = elements["numa-" + node]
        x0, y0 = float(box.get("x")), float(box.get("y"))
        x1, y1 = x0 + float(box.get("width")), y0 + float(box.get("height"))
        node_cpus = list(topology["numa_nodes"][node]["cpus"])
        node_gpus = [g["index"] for g in topology["gpus"] if str(g["numa_node"]) == node]
        for eid in ["cpu-%d" % c for c in node_cpus] + ["gpu-%d" % g for g in node_gpus]:
            el = elements[eid]
            assert x0 < float(el.get("x")) and float(el.get("x")) + float(el.get("width")) < x1, eid
            assert y0 < float(el.get("y")) and float(el.get("y")) + float(el.get("height")) < y1, eid
    assert len([k for k in elements if k.startswith("cpu-")]) == 256


def test_warnings_are_drawn_and_flag_the_gpu():
    topology, tenants = three_tenants_a100()
    report = report_for(topology, tenants, processes={7: [tenants[0].pid]})
    svg = allocation_svg(report, "dgx01")
    elements = by_id(svg)
    assert elements["gpu-7"].get("stroke") == "#c0392b" and elements["gpu-6"].get("stroke") != "#c0392b"
    text = " ".join(t.text or "" for t in ET.fromstring(svg.encode()).iter(SVG_NS + "text"))
    assert "Warnings (2)" in text and "GPU 7 (free)" in text and "carol: CPUs 16-23,144-151" in text


def test_links_of_a_cube_mesh_and_of_pcie_switches_are_drawn_as_arcs():
    mesh = render_svg(report_for(fixture_topology("dgx1-v100-microway.txt"), []))
    report = report_for(fixture_topology("dgx1-v100-microway.txt"), [])
    nv = [l for l in report["links"] if l["kind"] == "nvlink"]
    arcs = [k for k in by_id(mesh.svg) if k.startswith("link-")]
    assert len(arcs) == len(nv) and "nvlink-fabric" not in by_id(mesh.svg)
    pix = render_svg(report_for(fixture_topology("4x-pcie-single-switch-pix.txt"), []))
    assert len([k for k in by_id(pix.svg) if k.startswith("link-")]) == 6  # PIX between all four
    fabric = render_svg(report_for(sixteen_gpu_topology(), []))
    assert "nvlink-fabric" in by_id(fabric.svg) and not [k for k in by_id(fabric.svg) if k.startswith("link-")]


def test_table_columns_and_free_per_node():
    topology, tenants = three_tenants_a100()
    table = allocation_table(report_for(topology, tenants), "dgx01")
    lines = table.splitlines()
    assert lines[0].startswith("Allocation of dgx01: GPUs 4 held, 4 free of 8")
    header = lines[2].split()
    assert header == ["TENANT", "GPUS", "CPUS", "CPUSET", "NUMA", "MEMORY", "DISK", "SSH", "IMAGE"]
    alice = [l for l in lines if l.startswith("alice")][0].split()
    assert alice[:8] == ["alice", "0,1", "32", "0-15,128-143", "0", "128G", "1T", "2201"]
    carol = [l for l in lines if l.startswith("carol")][0].split()
    assert carol[4] == "0,1"
    start = lines.index("Free per NUMA node:")
    assert lines[start + 3].split() == ["0", "2,3", "80", "24-63,152-191"]
    assert lines[start + 4].split()[:3] == ["1", "6,7", "112"]
    assert "- carol: CPUs 16-23,144-151 are on NUMA node 0, its GPU 5 on node 1" in lines
    # every column starts at the same place on every row
    col = lines[2].index("CPUSET")
    assert all(l[col - 2:col] == "  " for l in lines[4:7])


def test_index_page_lists_every_host_and_escapes_names(tmp_path):
    topology, tenants = three_tenants_a100()
    report = report_for(topology, tenants)
    page = allocation_index({"dgx01": report, "dgx<02>": {"changed": False, "allocation": report}}, missing=["dgx03"])
    assert 'src="dgx01.svg"' in page and 'href="dgx01.json"' in page and 'href="dgx01.txt"' in page
    assert "dgx&lt;02&gt;" in page and "<02>" not in page
    assert "dgx03" in page and "no report" in page
    path = tmp_path / "index.html"
    path.write_text(page)
    done = subprocess.run([tool("xmllint", "libxml2-utils"), "--html", "--noout", str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert done.returncode == 0 and not done.stdout, done.stdout


@pytest.mark.parametrize("bad, field", [
    ("text", "allocation must be"), ({"host": {}}, "allocation.numa_nodes"),
    ({"failed": True, "msg": "docker down", "allocation": None}, "the module failed"),
])
def test_bad_input_fails_naming_the_field(bad, field):
    for renderer in (allocation_svg, allocation_table):
        with pytest.raises(AnsibleFilterError) as info:
            renderer(bad)
        assert field in str(info.value)
    with pytest.raises(AnsibleFilterError) as info:
        allocation_index({"h": bad})
    assert field.replace("allocation", "hosts['h']") in str(info.value) or "the module failed" in str(info.value)
    with pytest.raises(AnsibleFilterError) as info:
        allocation_index(["h"])
    assert "hosts must be a dict" in str(info.value)


def test_mig_instances_are_cells_in_their_holders_colours_on_a_white_gpu(tmp_path):
    topology, _tenants = three_tenants_a100()
    gpu = topology["gpus"][6]
    gpu["mig_mode"] = "Enabled"
    gpu["mig_instances"] = [{"profile": "1g.10gb", "gi": g, "ci": 0, "uuid": "MIG-%08d-0000-5000-8000-000000000000" % g,
                             "memory_mib": 9856} for g in range(7, 14)]
    uuids = [i["uuid"] for i in gpu["mig_instances"]]
    tenants = [Tenant("dora", gpus=uuids[:2], cpus=range(64, 72), port=2210),
               Tenant("eve", gpus=[uuids[4]], cpus=range(72, 80), port=2211)]
    report = report_for(topology, tenants)
    assert [i["tenant"] for i in report["gpus"][6]["mig_instances"]] == ["dora", "dora", None, None, "eve", None, None]
    drawing = render_svg(report, "mig")
    _width, _height, pixel = render_png(drawing, tmp_path)
    elements = by_id(drawing.svg)
    colours = {"dora": PALETTE[0], "eve": PALETTE[1]}
    x, y, fill = drawing.probes["gpu-6"]
    assert fill == FREE and pixel(x, y) == rgb(FREE)  # the GPU is not one tenant's
    box = elements["gpu-6"]
    for uuid, holder in zip(uuids, ["dora", "dora", None, None, "eve", None, None]):
        cell = elements["mig-" + uuid]
        cx, cy = float(cell.get("x")), float(cell.get("y"))
        cw, ch = float(cell.get("width")), float(cell.get("height"))
        assert float(box.get("x")) < cx and cx + cw < float(box.get("x")) + float(box.get("width"))
        assert float(box.get("y")) < cy and cy + ch < float(box.get("y")) + float(box.get("height"))
        assert pixel(cx + cw / 2, cy + ch / 2) == rgb(colours[holder] if holder else FREE), (uuid, holder)
        assert (holder or "free") in cell.find(SVG_NS + "title").text
