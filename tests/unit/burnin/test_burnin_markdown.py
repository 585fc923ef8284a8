"""The burn-in report for people (plugins/plugin_utils/burnin/markdown.py through the burnin_report and
burnin_fleet filters): every GPU and every reason is in the host's Markdown, table cells cannot be broken by
what a GPU or DCGM prints, and the fleet summary ranks GPUs against their model's fleet median."""
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.gpulab.dgx.plugins.filter.burnin_fleet import burnin_fleet
from ansible_collections.gpulab.dgx.plugins.filter.burnin_report import burnin_report


def report(gflops, verdicts=None, name="NVIDIA H100 80GB HBM3"):
    gpus = []
    for index, value in enumerate(gflops):
        verdict = (verdicts or {}).get(index, "pass")
        gpus.append({"index": index, "uuid": "GPU-%d" % index, "name": name, "verdict": verdict, "gflops": value,
                     "gflops_vs_median": 1.0, "max_temp": 70, "temp_limit": 80, "limits": {"max_operating": 85, "slowdown": 89},
                     "max_power_w": 690.5, "clock_events": {"sw_power_cap": 3}, "reasons": ["bad %d" % index] if verdict == "fail" else [],
                     "warnings": []})
    return {"verdict": "fail" if "fail" in (verdicts or {}).values() else "pass", "gpus": gpus, "problems": [],
            "gpus_seen": len(gpus), "gpus_expected": len(gpus), "driver_version": "550.90.07", "duration": 600, "seconds": 601.2,
            "mode": "each", "dcgm": [], "dcgm_installed": False, "thresholds": {"temp_margin": 5, "temp_cap": None, "perf_tolerance_percent": 10}}


def test_the_host_markdown_has_a_row_per_gpu_and_every_reason():
    text = burnin_report(report([50000, 51000, 30000], {2: "fail"}), "dgx01")
    assert text.startswith("# GPU burn-in of dgx01: FAIL\n")
    assert [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ") and "GPU-" in line] == ["0", "1", "2"]
    assert "- GPU 2 **fails**: bad 2" in text and "sw_power_cap x3" in text


@given(st.text(max_size=30))
def test_what_a_gpu_reports_cannot_break_the_table(name):
    text = burnin_report(report([1.0], name=name), "h")
    row = [line for line in text.splitlines() if "GPU-0" in line][0]
    assert row.count("|") - row.count("\\|") == 11


def test_anything_but_a_report_is_refused():
    for bad in ({}, {"verdict": "maybe", "gpus": []}, [], None):
        with pytest.raises(AnsibleFilterError, match="burnin_report"):
            burnin_report(bad, "h")
    with pytest.raises(AnsibleFilterError, match="burnin_fleet"):
        burnin_fleet({})


def test_the_fleet_ranks_gpus_against_their_models_fleet_median():
    fleet = burnin_fleet({"dgx01": report([50000, 50000]), "dgx02": report([50000, 40000], {1: "fail"}),
                          "dgx03": report([20000, 21000], name="NVIDIA A30")}, slowest=2)
    assert fleet["verdict"] == "fail" and fleet["hosts"] == {"dgx01": "pass", "dgx02": "fail", "dgx03": "pass"}
    h100 = [m for m in fleet["models"] if m["model"].startswith("NVIDIA H100")][0]
    assert (h100["gpus"], h100["median"], h100["spread_percent"]) == (4, 50000.0, 20.0)
    assert [(g["host"], g["gpu"], g["below_median_percent"]) for g in fleet["slowest"]] == [("dgx02", 1, 20.0), ("dgx03", 0, 2.44)]
    assert fleet["failed"] == [{"host": "dgx02", "gpu": 1, "reasons": ["bad 1"]}]
    assert "- dgx02 GPU 1 (NVIDIA H100 80GB HBM3): 40000 Gflop/s, 20.0 % below" in fleet["markdown"]
