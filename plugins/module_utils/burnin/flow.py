# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One host's burn-in from start to verdict: which GPUs (never one a tenant holds), the pre-checks,
the stress run, DCGM's diagnostics, the in-container check, and the report the verdict is part of."""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.burnin import dcgm, gpuburn, nvml, run, thermal, verdict, xid
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import is_mig_uuid

# (argv, timeout seconds) -> (exit status or None, stdout, stderr, timed out)
Runner = Callable[[List[str], int], Tuple[Optional[int], str, str, bool]]


class Refused(Exception):
    """The burn-in will not run (bad input, a GPU held by a tenant, NVML missing): nothing was started."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super(Refused, self).__init__("%s: %r %s" % (field, value, reason))
        self.field, self.value, self.reason = field, value, reason


def held_gpus(ledger: Any, gpus: List[Dict[str, Any]]) -> Dict[int, str]:
    """{GPU index: the tenant (or leftover) that holds it} from the ledger's GPU ids (UUIDs, indices or MIG
    instances' UUIDs). A MIG instance NVML did not list is held on GPU -1 (some GPU in MIG mode)."""
    by_id = {}
    for gpu in gpus:
        by_id[gpu["uuid"]] = gpu["index"]
        by_id[str(gpu["index"])] = gpu["index"]
        for mig_uuid in gpu.get("mig_uuids") or []:
            by_id[mig_uuid] = gpu["index"]
    held: Dict[int, str] = {}
    for record in list(ledger.tenants.values()) + list(ledger.leftovers.values()):
        for gid in record.gpu_ids:
            if gid in by_id:
                held[by_id[gid]] = record.name
            elif is_mig_uuid(gid):
                held[-1] = record.name
    return held


def choose(all_gpus: List[Dict[str, Any]], asked: Optional[List[int]], held: Dict[int, str]) -> List[Dict[str, Any]]:
    """The GPUs to test: those asked for (each must exist and be free), else all when none is held."""
    known = dict((g["index"], g) for g in all_gpus)
    if asked:
        missing = [i for i in asked if i not in known]
        if missing:
            raise Refused("gpus", asked, "names GPU(s) %s this host does not have (it has %s)" % (missing, sorted(known)))
        busy = ["%d (tenant %s)" % (i, held[i]) for i in asked if i in held]
        if busy:
            raise Refused("gpus", asked, "names GPU(s) held by tenants: %s; a burn-in would take them from their work" % ", ".join(busy))
        partitioned = [i for i in asked if known[i].get("mig_mode")]
        if partitioned:
            raise Refused("gpus", asked, "names GPU(s) %s in MIG mode: a burn-in tests whole GPUs (apply a layout "
                          "with mig-enabled: false to them first)" % partitioned)
        return sorted((known[i] for i in set(asked)), key=lambda g: g["pci_bus_id"] or str(g["index"]))
    if held:
        raise Refused("gpus", asked, "is empty while tenants hold GPUs (%s): name the free GPUs to test, or remove the tenants"
                      % ", ".join("%s: %s" % ("a MIG instance" if i < 0 else i, t) for i, t in sorted(held.items())))
    whole = [g for g in all_gpus if not g.get("mig_mode")]
    if not whole:
        raise Refused("gpus", asked, "is empty and every GPU is in MIG mode: a burn-in tests whole GPUs")
    return sorted(whole, key=lambda g: g["pci_bus_id"] or str(g["index"]))


def _bus_key(bus: str) -> str:
    parts = bus.split(":")
    return ("%08X:" % int(parts[0], 16) + ":".join(parts[1:])).upper() if len(parts) == 3 else bus.upper()


def limits_for(session: nvml.Nvml, gpus: List[Dict[str, Any]], runner: Runner) -> Dict[int, Optional[Dict[str, Any]]]:
    """Each GPU's temperature limits from NVML, else from `nvidia-smi -q -d TEMPERATURE` (both of its forms)."""
    found = dict((g["index"], session.limits(g["index"])) for g in gpus)
    if any(v is None for v in found.values()):
        status, out, _err, _late = runner(["nvidia-smi", "-q", "-d", "TEMPERATURE"], 60)
        if status == 0:
            parsed = dict((_bus_key(k), v) for k, v in thermal.parse_temperature_query(out).items())
            for gpu in gpus:
                limits = parsed.get(_bus_key(gpu["pci_bus_id"] or ""))
                if found[gpu["index"]] is None and limits is not None:
                    found[gpu["index"]] = limits.as_dict()
    return found


def _burn_results(result: run.RunResult) -> Dict[int, Dict[str, Any]]:
    """{GPU index: its gpu-burn failures, Gflop/s, hottest reading}; positions mapped through the UUIDs gpu-burn lists."""
    per_gpu: Dict[int, Dict[str, Any]] = {}
    for outcome in result.outcomes:
        parsed = gpuburn.parse(outcome.stdout, outcome.stderr, outcome.status, outcome.timed_out)
        by_uuid = dict((g["uuid"], g["index"]) for g in outcome.gpus)
        for position, gpu in enumerate(outcome.gpus):
            listed = [p for p, b in parsed.gpus.items() if b.uuid and b.uuid in by_uuid and by_uuid[b.uuid] == gpu["index"]]
            at = listed[0] if listed else position
            burned = parsed.gpus.get(at)
            per_gpu[gpu["index"]] = {"burn_failures": gpuburn.gpu_failures(parsed, at),
                                     "gflops": burned.median_gflops if burned else None,
                                     "burn_max_temp": burned.max_temp if burned else None,
                                     "exit_status": outcome.status, "output_tail": outcome.stdout[-2000:]}
    return per_gpu


def run_dcgm(gpus: List[Dict[str, Any]], levels: List[int], timeout: int, runner: Runner) -> List[dcgm.DiagLevel]:
    done = []
    ids = ",".join(str(g["index"]) for g in gpus)
    for level in levels:
        status, out, err, late = runner(["dcgmi", "diag", "-r", str(level), "-j", "-i", ids], timeout)
        done.append(dcgm.parse_diag(level, out or err, status, late))
    return done


def burnin(params: Dict[str, Any], client: Any, session: nvml.Nvml, ledger: Any, runner: Runner,
           dcgmi_present: bool, kmsg: Callable[[], Optional[List[str]]] = xid.read_kmsg,
           clock: Callable[[], float] = time.monotonic, wait: Optional[Callable[[float], Any]] = None) -> Dict[str, Any]:
    """The whole burn-in; the report (a dict) with the verdict. Raises Refused before anything starts."""
    all_gpus = [session.identity(i) for i in range(session.count())]
    gpus = choose(all_gpus, params.get("gpus"), held_gpus(ledger, all_gpus))
    busy = run.running_burnins(client)
    if busy:
        raise Refused("gpus", params.get("gpus"), "cannot be tested now: another burn-in runs on this host (%s)" % ", ".join(busy))
    expected = params.get("expected_gpus")
    thresholds = verdict.Thresholds(params["temp_margin"], params.get("temp_cap"), params["perf_tolerance"] / 100.0)
    limits = limits_for(session, gpus, runner)
    before = dict((g["index"], session.counters(g["index"])) for g in gpus)
    records = kmsg()
    start_seq, boot_xids = xid.parse_records(records or [])
    plan = run.Plan(gpus, params["image"], params["command"], params["seconds"], params["mode"],
                    params["sample_interval"], params["grace"], params["stop_margin"])
    started_at = time.time()
    removed = run.remove_leftovers(client)
    result = run.run(client, plan, session.sample, limits, uuidlib.uuid4().hex[:12], clock, wait)
    burned = _burn_results(result)
    after = dict((g["index"], session.counters(g["index"])) for g in gpus)
    _last, xids_now = xid.parse_records(kmsg() or [])
    levels = run_dcgm(gpus, params["dcgm_levels"], params["dcgm_timeout"], runner) if dcgmi_present and not result.stopped_early else []
    checks = in_container_checks(client, gpus, params, runner_id="check") if params.get("check_image") else {}

    reports = []
    for gpu in gpus:
        index = gpu["index"]
        row = dict(gpu)
        row.update(burned.get(index, {"burn_failures": ["gpu-burn did not run on it"], "gflops": None}))
        row.update(nvml.summarize(result.samples.get(index, []), thermal.failing_reasons, thermal.throttle_reasons))
        if row.get("max_temp") is None:
            row["max_temp"] = row.get("burn_max_temp")
        row["limits"] = limits.get(index)
        row["ecc_before"], row["ecc_after"] = before[index], after[index]
        row["xids"] = [str(x) for x in xids_now if x.seq > start_seq and x.matches(gpu["pci_bus_id"])]
        row["warnings"] = ["XID since boot, before the burn-in: %s" % x for x in boot_xids if x.matches(gpu["pci_bus_id"])]
        if gpu.get("persistence_mode") is False:
            row["warnings"].append("persistence mode is off (nvidia-persistenced keeps GPUs initialised between jobs)")
        row["dcgm"] = [{"level": lv.level, "failures": lv.failures(index) + ([lv.error] if lv.error else []),
                        "warnings": lv.warnings(index)} for lv in levels]
        if index in result.stopped_early:
            row["stopped_early"] = result.stopped_early[index]
        elif result.stopped_early:
            row["burn_failures"] = []
            row["incomplete"] = "the run was stopped early for GPU(s) %s" % ",".join(str(i) for i in sorted(result.stopped_early))
        if index in checks:
            row["check"] = checks[index]
            if checks[index]["status"] != 0:
                row["burn_failures"] = row["burn_failures"] + ["the in-container check failed (exit %s)" % checks[index]["status"]]
        reports.append(row)
    notes = ["removed containers a previous burn-in left: %s" % ", ".join(removed)] if removed else []
    host = verdict.host_verdict(reports, expected, len(all_gpus), thresholds)
    for row in reports:
        if row.get("incomplete") and row["verdict"] == "pass":
            row["verdict"] = "incomplete"
            row["warnings"].append(row["incomplete"])
    if result.stopped_early:
        host["problems"].append("stopped early: " + "; ".join("GPU %d: %s" % kv for kv in sorted(result.stopped_early.items())))
        host["verdict"] = "fail"
    return {"verdict": host["verdict"], "failed_gpus": host["failed_gpus"], "problems": host["problems"], "notes": notes,
            "gpus_seen": len(all_gpus), "gpus_expected": expected, "driver_version": session.driver_version(),
            "started": started_at, "seconds": result.seconds, "mode": params["mode"], "duration": params["seconds"],
            "thresholds": {"temp_margin": thresholds.temp_margin, "temp_cap": thresholds.temp_cap,
                           "perf_tolerance_percent": params["perf_tolerance"]},
            "dcgm": [lv.as_dict() for lv in levels], "dcgm_installed": dcgmi_present, "gpus": reports}


def in_container_checks(client: Any, gpus: List[Dict[str, Any]], params: Dict[str, Any], runner_id: str) -> Dict[int, Dict[str, Any]]:
    """The tenant image's `gpulab-check` on each GPU, one container at a time; {index: {status, output}}."""
    from docker.types import DeviceRequest  # pylint: disable=import-outside-toplevel
    done: Dict[int, Dict[str, Any]] = {}
    for gpu in gpus:
        request = DeviceRequest(driver="nvidia", device_ids=[gpu["uuid"]], capabilities=[["gpu"]])
        container = client.containers.run(params["check_image"], params["check_command"][1:], detach=True,
                                          entrypoint=params["check_command"][:1], device_requests=[request],
                                          name="%s%s-%d" % (run.NAME_PREFIX, runner_id, gpu["index"]), labels={run.LABEL: runner_id})
        try:
            status = container.wait(timeout=params["check_timeout"]).get("StatusCode")
            output = container.logs().decode("utf-8", "replace")
        except Exception as exc:  # pylint: disable=broad-except
            status, output = None, "the check did not finish: %s" % exc
        finally:
            container.remove(force=True)
        done[gpu["index"]] = {"status": status, "output": output[-2000:]}
    return done
