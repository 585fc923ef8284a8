"""module_utils/metrics/render.py: the Prometheus text format 0.0.4 (escaping, order, values,
determinism), checked by `promtool check metrics` (Debian package `prometheus`) where it exists;
`make setup` installs it, so it is required, not skipped."""
import math
import random
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.render import (
    Family, escape_help, escape_label, format_value, render)


def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: install Debian's `prometheus` package (scripts/setup-system.sh, make setup)")
    return path


def promtool_accepts(text):
    done = subprocess.run([promtool(), "check", "metrics"], input=text, universal_newlines=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    return done.returncode, done.stdout


def test_escaping():
    assert escape_label('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    assert escape_help('x\\y\nz"') == 'x\\\\y\\nz"'


def test_values():
    assert format_value(3) == "3"
    assert format_value(True) == "1"
    assert format_value(2.0) == "2"
    assert format_value(0.25) == "0.25"
    assert format_value(12.345678901) == "12.345678901"
    assert format_value(float("inf")) == "+Inf" and format_value(float("-inf")) == "-Inf"
    assert format_value(float("nan")) == "NaN"
    assert float(format_value(1e20)) == 1e20


def test_layout_and_natural_order():
    family = Family("x_gpus", "gauge", "Help with \\ and\nnewline.")
    for gpu in (10, 9, 2):
        family.add(1, tenant="t", gpu=gpu, UUID="GPU-%d" % gpu)
    empty = Family("x_empty", "counter", "never shown")
    text = render([family, empty])
    assert text == (
        "# HELP x_gpus Help with \\\\ and\\nnewline.\n"
        "# TYPE x_gpus gauge\n"
        'x_gpus{tenant="t",gpu="2",UUID="GPU-2"} 1\n'
        'x_gpus{tenant="t",gpu="9",UUID="GPU-9"} 1\n'
        'x_gpus{tenant="t",gpu="10",UUID="GPU-10"} 1\n')
    assert render([]) == "" and render([empty]) == ""


def test_a_series_given_twice_is_a_defect():
    family = Family("x", "gauge", "h")
    family.add(1, a="1")
    family.add(2, a="1")
    with pytest.raises(ValueError):
        render([family])


@pytest.mark.parametrize("name,kind,label", [("1x", "gauge", "a"), ("x-y", "gauge", "a"), ("x", "summary", "a"),
                                             ("x", "gauge", "__a"), ("x", "gauge", "a-b")])
def test_bad_names_are_refused(name, kind, label):
    with pytest.raises(ValueError):
        Family(name, kind, "h").add(1, **{label: "v"})


label_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(label_text, st.integers(0, 20), st.floats(allow_nan=False, allow_infinity=False, width=32)),
                min_size=1, max_size=8, unique_by=lambda t: (t[0], t[1])),
       st.randoms(use_true_random=False))
def test_any_labels_render_the_same_in_any_order_and_promtool_reads_them(rows, rnd):
    def build(order):
        family = Family("gpulab_test_value_bytes", "gauge", "A test family.")
        for tenant, gpu, value in order:
            family.add(value, tenant=tenant, gpu=gpu)
        return render([family])
    text = build(rows)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert build(shuffled) == text
    rc, out = promtool_accepts(text)
    assert rc == 0, (out, text)


def test_promtool_reads_every_value_form():
    family = Family("gpulab_test_seconds_total", "counter", "A counter.")
    for i, value in enumerate([0, 1, 2.5, 1e20, 1.5e-7, math.pi, float("inf")]):
        family.add(value, i=i)
    rc, out = promtool_accepts(render([family]))
    assert rc == 0, out


def test_deterministic_across_hash_seeds():
    family = Family("x", "gauge", "h")
    names = ["t%d" % i for i in range(50)]
    random.Random(1).shuffle(names)
    for name in names:
        family.add(1, tenant=name)
    lines = render([family]).splitlines()[2:]
    assert lines == sorted(lines, key=lambda line: int(line.split('"')[1][1:]))
