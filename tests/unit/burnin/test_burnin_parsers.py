"""The burn-in's readers on recorded outputs in the tools' real formats (tests/unit/fixtures/burnin):
gpu-burn (carriage-return progress lines, the DIED/WARNING notes, the summary by position, its exit
statuses), `dcgmi diag -j` (DCGM 3.x and 4.x shapes; pass, fail, skip, runtime error, no JSON, hung),
`nvidia-smi -q -d TEMPERATURE` (absolute limits and T.Limit headroom) and NVML's clock event masks."""
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.burnin import dcgm, gpuburn, thermal

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "burnin")


def fixture(name):
    path = os.path.join(FIXTURES, name)
    if not os.path.exists(path):
        return ""
    with open(path, newline="") as handle:
        return handle.read()


def burn(name, status=None, timed_out=False):
    """A recorded run ({stdout, stderr, status}; JSON keeps gpu-burn's carriage returns), with another exit status when given."""
    record = json.loads(fixture(name + ".json"))
    return gpuburn.parse(record["stdout"], record["stderr"], record["status"] if status is None else status, timed_out)


def test_all_ok_gives_each_gpu_its_uuid_throughput_and_hottest_reading():
    run = burn("gpu-burn-ok")
    assert run.problems == [] and run.tested == 2
    assert [run.gpus[p].uuid[-2:] for p in (0, 1)] == ["01", "02"]
    assert [gpuburn.gpu_failures(run, p) for p in (0, 1)] == [[], []]
    assert run.gpus[0].median_gflops == 18860 and run.gpus[1].median_gflops == 18815
    assert (run.gpus[0].max_temp, run.gpus[1].max_temp) == (69, 71)


def test_faulty_with_exit_0_fails_that_gpu_only():
    run = burn("gpu-burn-faulty", status=0)
    assert gpuburn.gpu_failures(run, 0) == []
    reasons = gpuburn.gpu_failures(run, 1)
    assert reasons and "compare errors (3" in reasons[0], reasons


def test_a_died_worker_fails_its_gpu_although_the_summary_says_ok():
    run = burn("gpu-burn-died", status=0)
    assert run.gpus[0].summary == "OK"
    assert "its gpu-burn worker died" in gpuburn.gpu_failures(run, 0)
    assert gpuburn.gpu_failures(run, 1) == []


def test_no_cuda_devices_fails_every_gpu_it_was_given():
    run = burn("gpu-burn-nodev", status=19)
    for position in (0, 3):
        reasons = gpuburn.gpu_failures(run, position)
        assert "gpu-burn found no CUDA device" in reasons and any("exited 19" in r for r in reasons)


def test_an_init_failure_exiting_124_is_told_apart_from_a_timeout():
    init = burn("gpu-burn-initfail", status=124)
    assert any("could not start a GPU test: Couldn't init a GPU test" in p for p in init.problems)
    assert not any("timeout" in p for p in init.problems)
    killed = burn("gpu-burn-hung", status=124)
    assert killed.problems == ["the run was killed by timeout (exit 124)"]
    assert gpuburn.gpu_failures(killed, 1)[0] == "the run was killed by timeout (exit 124)"
    ours = gpuburn.parse(json.loads(fixture("gpu-burn-hung.json"))["stdout"], "", None, True)
    assert ours.problems == ["the run did not end in time and was killed (hung)"]


def test_a_run_without_summary_is_a_failure_even_with_exit_0():
    run = burn("gpu-burn-hung", status=0)
    assert run.tested is None and run.problems == ["gpu-burn printed no summary (Tested N GPUs)"]


def test_a_gpu_missing_from_the_run_fails():
    run = burn("gpu-burn-ok")
    assert gpuburn.gpu_failures(run, 2) == ["gpu-burn did not test it"]


@given(st.lists(st.tuples(st.integers(min_value=-1, max_value=10 ** 6), st.integers(min_value=0, max_value=99999),
                          st.integers(min_value=0, max_value=50), st.sampled_from(["", "WARNING", "DIED"]),
                          st.integers(min_value=0, max_value=120)), min_size=1, max_size=8))
def test_any_progress_line_is_read_position_by_position(gpus):
    """A progress line for any number of GPUs, written as gpu-burn's printf calls write it."""
    procd = "".join("%d (%d Gflop/s) " % (p, g) + ("- " if i < len(gpus) - 1 else "") for i, (p, g, _e, _n, _t) in enumerate(gpus))
    errors = "".join(("%d " % e if not n else "%d  (%s!)" % (e, n)) + ("- " if i < len(gpus) - 1 else "")
                     for i, (_p, _g, e, n, _t) in enumerate(gpus))
    temps = "".join(("%d C " % t if t else "-- ") + ("- " if i < len(gpus) - 1 else "") for i, (_p, _g, _e, _n, t) in enumerate(gpus))
    run = gpuburn.parse("\r42.0%%  proc'd: %s  errors: %s  temps: %s" % (procd, errors, temps), "", 0)
    for position, (processed, gflops, errs, note, temp) in enumerate(gpus):
        gpu = run.gpus[position]
        assert gpu.errors == errs
        assert gpu.died == (processed == -1 or note == "DIED")
        assert gpu.gflops == ([float(gflops)] if processed != -1 and gflops > 0 else [])
        assert gpu.max_temp == (temp or None)


def diag(name, status=0, level=2, timed_out=False):
    return dcgm.parse_diag(level, fixture(name), status, timed_out)


def test_dcgm_pass_gives_rows_and_nothing_to_say():
    level = diag("dcgmi-diag-r2-pass.json")
    assert level.error is None and len(level.rows) == 9 + 4
    assert level.failures(0) == level.failures(1) == [] and level.warnings(1) == []


def test_dcgm_fail_names_the_test_and_the_gpu():
    level = diag("dcgmi-diag-r2-fail.json", status=226)
    assert level.failures(0) == []
    assert level.failures(1) == ["DCGM level 2 fail: GPU Memory (Error using CUDA API cudaMalloc Detected 12 uncorrectable DBE errors on GPU 1)"]


def test_dcgm_skip_is_a_warning_never_a_pass_and_leading_text_is_tolerated():
    level = diag("dcgmi-diag-r2-skip.json")
    assert level.error is None and level.failures(0) == []
    assert level.warnings(0) == ["DCGM level 2 skipped: PCIe (The pcie test is skipped: its configuration (diag-skus.yaml) was not found)"]
    assert level.warnings(1) == ["DCGM level 2 skipped: PCIe"]


def test_dcgm_4_shape_by_entity():
    level = diag("dcgmi-diag-v4-fail.json", status=226)
    assert level.failures(0) == [] and level.failures(1) == ["DCGM level 2 fail: memory (Detected 2 uncorrectable DBE errors)"]


@pytest.mark.parametrize("text, timed_out, says", [
    (fixture("dcgmi-diag-runtime-error.json"), False, "GPU 1 is in use by another client"),
    ("Error: unable to connect to host engine at 127.0.0.1.\n", False, "printed no JSON"),
    (json.dumps({"DCGM GPU Diagnostic": {"version": "3.3.5"}}), False, "gave no test result"),
    ("", True, "did not end in time"),
])
def test_a_level_that_gives_no_verdict_is_an_error(text, timed_out, says):
    level = dcgm.parse_diag(3, text, 124 if timed_out else 255, timed_out)
    assert says in level.error and level.rows == []


@given(st.sampled_from(["Pass", "PASS", "pass", "Fail", "FAIL", "Warn", "Skip", "SKIPPED", "Not Run", "weird", ""]))
def test_statuses_map_and_anything_unknown_is_not_a_pass(status):
    text = json.dumps({"DCGM GPU Diagnostic": {"test_categories": [{"category": "Hardware", "tests": [
        {"name": "Diagnostic", "results": [{"gpu_ids": "0", "status": status}]}]}]}})
    row = dcgm.parse_diag(3, text, 0).rows[0]
    assert row.status == {"pass": "pass", "fail": "fail", "warn": "warn", "skip": "skip", "skipped": "skip"}.get(status.lower(), "not run")


def test_absolute_temperature_limits_per_gpu():
    limits = thermal.parse_temperature_query(fixture("nvidia-smi-q-temperature-absolute.txt"))
    assert sorted(limits) == ["00000000:07:00.0", "00000000:0F:00.0"]
    assert limits["00000000:07:00.0"].as_dict() == {"max_operating": 85, "slowdown": 89, "shutdown": 92, "source": "absolute"}


def test_tlimit_headroom_gives_absolute_limits_and_n_a_gives_none():
    limits = thermal.parse_temperature_query(fixture("nvidia-smi-q-temperature-tlimit.txt"))
    # current 33 C with 54 C of headroom: T.Limit at 87 C; slowdown at -2 C of headroom, shutdown at -5 C.
    assert limits["00000000:18:00.0"].as_dict() == {"max_operating": 87, "slowdown": 89, "shutdown": 92, "source": "tlimit"}
    assert limits["00000000:2A:00.0"] is None


@pytest.mark.parametrize("mask, names, failing", [
    (0x0, [], []),
    (0x1, ["gpu_idle"], []),
    (0x4, ["sw_power_cap"], []),
    (0x24, ["sw_power_cap", "sw_thermal_slowdown"], ["sw_thermal_slowdown"]),
    (0x48, ["hw_slowdown", "hw_thermal_slowdown"], ["hw_slowdown", "hw_thermal_slowdown"]),
    (0x88, ["hw_slowdown", "hw_power_brake_slowdown"], ["hw_slowdown", "hw_power_brake_slowdown"]),
    (0x1004, ["sw_power_cap", "unknown_0x1000"], []),
])
def test_throttle_reason_masks(mask, names, failing):
    assert thermal.throttle_reasons(mask) == names
    assert thermal.failing_reasons(mask) == failing
