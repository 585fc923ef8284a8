"""The burn-in's verdict (plugins/module_utils/burnin/verdict.py): each failure class fails exactly the GPU
it concerns, warnings never fail, and the host fails when any GPU fails or GPUs are missing."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.burnin.verdict import Thresholds, host_verdict, temperature_limit

ABSOLUTE = {"max_operating": 85, "slowdown": 89, "shutdown": 92, "source": "absolute"}


def healthy(index, gflops=19000.0, name="NVIDIA A100-SXM4-80GB"):
    return {"index": index, "name": name, "gflops": gflops, "max_temp": 70, "limits": dict(ABSOLUTE),
            "burn_failures": [], "throttle_failing": {}, "ecc_before": {"volatile_uncorrected": 0, "retired_pages_pending": 0},
            "ecc_after": {"volatile_uncorrected": 0, "retired_pages_pending": 0}, "xids": [], "dcgm": []}


FAILURES = {
    "burn": lambda g: g.update(burn_failures=["gpu-burn marked it FAULTY"]),
    "hot": lambda g: g.update(max_temp=81),
    "throttle": lambda g: g.update(throttle_failing={"hw_thermal_slowdown": 3}),
    "ecc": lambda g: g.update(ecc_after={"volatile_uncorrected": 2, "retired_pages_pending": 0}),
    "xid": lambda g: g.update(xids=["NVRM: Xid (PCI:0000:07:00): 79, GPU has fallen off the bus"]),
    "dcgm": lambda g: g.update(dcgm=[{"failures": ["DCGM level 2 fail: GPU Memory"], "warnings": []}]),
    "slow": lambda g: g.update(gflops=15000.0),
    "stopped": lambda g: g.update(stopped_early="84 C is within 5 C of its slowdown temperature 89 C"),
    "pending": lambda g: g.update(ecc_before={"volatile_uncorrected": 0, "retired_pages_pending": 0, "remapped_rows_pending": 1},
                                  ecc_after={"volatile_uncorrected": 0, "retired_pages_pending": 0, "remapped_rows_pending": 1}),
    "remap_failed": lambda g: g.update(ecc_before={"remapped_rows_failure": 1}, ecc_after={"remapped_rows_failure": 1}),
}


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_each_failure_class_fails_exactly_its_gpu(kind):
    gpus = [healthy(i) for i in range(4)]
    FAILURES[kind](gpus[2])
    host = host_verdict(gpus, expected=4, seen=4, thresholds=Thresholds())
    assert host["verdict"] == "fail" and host["failed_gpus"] == [2], [g["reasons"] for g in gpus]
    assert gpus[2]["reasons"] and all(g["reasons"] == [] for g in gpus if g["index"] != 2)


def test_a_healthy_host_passes_and_skips_are_warnings():
    gpus = [healthy(i) for i in range(8)]
    gpus[3]["dcgm"] = [{"failures": [], "warnings": ["DCGM level 2 skipped: PCIe"]}]
    host = host_verdict(gpus, expected=8, seen=8, thresholds=Thresholds())
    assert host == {"verdict": "pass", "failed_gpus": [], "problems": [], "warnings": 1}
    assert gpus[3]["warnings"] == ["DCGM level 2 skipped: PCIe"]


def test_fewer_gpus_than_expected_fails_the_host():
    host = host_verdict([healthy(0)], expected=2, seen=1, thresholds=Thresholds())
    assert host["verdict"] == "fail" and host["problems"] == ["1 GPUs seen, 2 expected"] and host["failed_gpus"] == []


def test_throughput_is_compared_within_a_model_only():
    gpus = [healthy(0, 19000.0), healthy(1, 19100.0), healthy(2, 9000.0, name="NVIDIA A30"), healthy(3, 9050.0, name="NVIDIA A30")]
    assert host_verdict(gpus, expected=4, seen=4, thresholds=Thresholds())["verdict"] == "pass"


@given(st.integers(min_value=60, max_value=100), st.integers(min_value=0, max_value=15), st.one_of(st.none(), st.integers(min_value=50, max_value=100)),
       st.integers(min_value=30, max_value=110))
def test_the_temperature_limit_is_max_operating_less_margin_capped(max_operating, margin, cap, reached):
    thresholds = Thresholds(temp_margin=margin, temp_cap=cap)
    limit = temperature_limit({"max_operating": max_operating, "slowdown": max_operating + 4}, thresholds)
    assert limit == min([max_operating - margin] + ([cap] if cap is not None else []))
    gpu = healthy(0)
    gpu.update(max_temp=reached, limits={"max_operating": max_operating, "slowdown": max_operating + 4})
    host = host_verdict([gpu], expected=1, seen=1, thresholds=thresholds)
    assert (host["verdict"] == "fail") == (reached > limit)


def test_no_known_limit_is_a_warning_unless_a_cap_is_set():
    gpu = healthy(0)
    gpu["limits"] = None
    assert host_verdict([gpu], 1, 1, Thresholds())["verdict"] == "pass" and "no temperature limit" in gpu["warnings"][0]
    gpu = healthy(0)
    gpu.update(limits=None, max_temp=86)
    assert host_verdict([gpu], 1, 1, Thresholds(temp_cap=85))["verdict"] == "fail"
