"""gpulab.dgx.gpu_burnin's argument spec (hypothesis over it): its documentation matches it, and any value
out of range or of the wrong shape fails with a message naming the option, before NVML or Docker is touched
(pynvml hidden, so a run that got that far would say so instead)."""
import math
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.burnin.options import RANGES
from ansible_collections.gpulab.dgx.plugins.modules import gpu_burnin

FIXTURE_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BASE = {"image": "gpulab/gpu-burn:test", "docker_host": "unix:///nonexistent/docker.sock"}


def assert_named(result, option):
    assert result["failed"] is True and "exception" not in result, result
    assert option in result["msg"], result["msg"]
    assert "pynvml" not in result["msg"], result["msg"]  # refused before NVML was asked for


def test_documentation_matches_the_argument_spec():
    documented = yaml.safe_load(gpu_burnin.DOCUMENTATION)["options"]
    spec = dict(gpu_burnin.ARGUMENT_SPEC)
    spec.pop("docker_host")  # from the gpulab.dgx.docker fragment
    assert set(documented) == set(spec)
    for name, option in spec.items():
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("default") == option.get("default"), name
        assert documented[name].get("choices") == option.get("choices"), name
        assert documented[name].get("elements") == option.get("elements"), name


@FIXTURE_SETTINGS
@given(st.data())
def test_any_number_out_of_its_range_is_refused_naming_it(run_module, data):
    name = data.draw(st.sampled_from(sorted(RANGES)))
    low, high = RANGES[name]
    kind = gpu_burnin.ARGUMENT_SPEC[name]["type"]
    outside = st.one_of(st.integers(max_value=int(math.ceil(low)) - 1), st.integers(min_value=int(high) + 1))
    if kind == "float":
        outside = st.one_of(outside, st.sampled_from([float("nan"), float("inf"), -float("inf")]))
    value = data.draw(outside)
    assert_named(run_module(gpu_burnin, dict(BASE, **{name: value})), name)


@FIXTURE_SETTINGS
@given(st.lists(st.integers(min_value=-5, max_value=9), min_size=1, max_size=6).filter(
    lambda v: min(v) < 0 or len(set(v)) != len(v)))
def test_gpus_must_be_distinct_indices(run_module, value):
    assert_named(run_module(gpu_burnin, dict(BASE, gpus=value)), "gpus")


@FIXTURE_SETTINGS
@given(st.lists(st.integers(min_value=-3, max_value=8), min_size=1, max_size=5).filter(
    lambda v: any(x not in (1, 2, 3, 4) for x in v) or len(set(v)) != len(v)))
def test_dcgm_levels_are_distinct_levels_1_to_4(run_module, value):
    assert_named(run_module(gpu_burnin, dict(BASE, dcgm_levels=value)), "dcgm_levels")


@FIXTURE_SETTINGS
@given(st.text(max_size=20).filter(lambda v: v not in ("each", "all")))
def test_mode_choices(run_module, value):
    assert_named(run_module(gpu_burnin, dict(BASE, mode=value)), "mode")


@pytest.mark.parametrize("option, value", [
    ("image", ""), ("image", "   "), ("command", []), ("command", [""]), ("check_command", []),
    ("metrics_file", "relative.prom"), ("metrics_file", "/var/lib/prometheus/node-exporter/gpulab_burnin.txt"),
])
def test_empty_or_malformed_values_are_refused_naming_the_option(run_module, option, value):
    assert_named(run_module(gpu_burnin, dict(BASE, **{option: value})), option)


def test_good_input_gets_as_far_as_nvml(run_module, monkeypatch):
    """Without pynvml (hidden here), valid options reach the NVML step and stop there, named."""
    pytest.importorskip("docker")
    monkeypatch.setitem(sys.modules, "pynvml", None)
    result = run_module(gpu_burnin, dict(BASE, seconds=600, gpus=[0, 1], dcgm_levels=[1, 3], temp_cap=85))
    assert result["failed"] is True and result["field"] == "nvml" and "install nvidia-ml-py" in result["msg"], result
