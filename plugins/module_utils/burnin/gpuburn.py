# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpu-burn's output, read for a verdict gpu-burn does not give itself.

gpu-burn (github.com/wilicc/gpu-burn) prints `nvidia-smi -L`, one `Initialized device` line per GPU,
progress lines separated by carriage returns (`12.5%  proc'd: 3216 (19425 Gflop/s) - ...  errors: 0 - 0
temps: 45 C - 46 C`, `-1` processed and ` (DIED!)` for a GPU whose worker died, ` (WARNING!)` after
compare errors), and at the end `Tested N GPUs:` with `\\tGPU i: OK|FAULTY`, where i is the GPU's
position in the run, not its index. It exits 0 even with a FAULTY GPU, prints OK for a GPU whose worker
died without compare errors, and exits non-zero without a summary when it found no device
(ENODEV 19), could not start a GPU test (EMEDIUMTYPE 124, the same status as `timeout`'s), failed during
compute (ECONNREFUSED 111) or lost every worker (ENOMEDIUM 123).
"""

from __future__ import annotations

import re
import statistics
from typing import Dict, List, Optional

PROGRESS = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+proc'd:(?P<procd>.*?)\berrors:(?P<errors>.*?)(?:\btemps:(?P<temps>.*))?$")
PROCESSED = re.compile(r"(-?\d+) \((\d+(?:\.\d+)?) Gflop/s\)")
ERRORS = re.compile(r"(\d+)\s*(\(DIED!\)|\(WARNING!\))?")
TEMPS = re.compile(r"(\d+) C|--")
LISTED = re.compile(r"^GPU (\d+): .*\(UUID: (\S+?)\)\s*$")
TESTED = re.compile(r"^Tested (\d+) GPUs:")
SUMMARY = re.compile(r"^\s*GPU (\d+): (OK|FAULTY)\s*$")

EXIT_MEANINGS = {
    19: "no CUDA device, or nvidia-smi missing (ENODEV)",
    111: "a failure during compute (ECONNREFUSED)",
    123: "every worker died (ENOMEDIUM)",
}
INIT_FAILED = "Couldn't init"


class BurnGpu(object):
    """What gpu-burn said about the GPU at one position of the run."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.uuid: Optional[str] = None
        self.gflops: List[float] = []
        self.errors = 0
        self.died = False
        self.summary: Optional[str] = None
        self.max_temp: Optional[int] = None

    @property
    def median_gflops(self) -> Optional[float]:
        return statistics.median(self.gflops) if self.gflops else None


class BurnRun(object):
    """One gpu-burn run: its GPUs by position and what went wrong with the run as a whole."""

    def __init__(self) -> None:
        self.gpus: Dict[int, BurnGpu] = {}
        self.tested: Optional[int] = None
        self.problems: List[str] = []

    def gpu(self, position: int) -> BurnGpu:
        return self.gpus.setdefault(position, BurnGpu(position))


def _progress(run: BurnRun, match) -> None:
    for position, (processed, gflops) in enumerate(PROCESSED.findall(match.group("procd"))):
        gpu = run.gpu(position)
        if int(processed) == -1:
            gpu.died = True
        elif float(gflops) > 0:
            gpu.gflops.append(float(gflops))
    # "%d " per GPU, "%d  (DIED!)" or "%d  (WARNING!)" with no space before the next "- ".
    for position, (count, note) in enumerate(ERRORS.findall(match.group("errors"))):
        gpu = run.gpu(position)
        gpu.errors = max(gpu.errors, int(count))
        gpu.died = gpu.died or note == "(DIED!)"
    for position, temp in enumerate(TEMPS.findall(match.group("temps") or "")):
        if temp:
            gpu = run.gpu(position)
            gpu.max_temp = max(gpu.max_temp or 0, int(temp))


def parse(stdout: str, stderr: str, status: Optional[int], timed_out: bool = False) -> BurnRun:
    """Read one run's output. `status` is its exit status (None: unknown); `timed_out`: our own limit stopped it."""
    run = BurnRun()
    in_summary = False
    for line in re.split(r"[\r\n]", stdout):
        listed = LISTED.match(line)
        if listed and not in_summary:
            run.gpu(int(listed.group(1))).uuid = listed.group(2)
            continue
        progress = PROGRESS.match(line)
        if progress:
            _progress(run, progress)
            continue
        tested = TESTED.match(line.strip())
        if tested:
            run.tested, in_summary = int(tested.group(1)), True
            continue
        summary = SUMMARY.match(line)
        if summary and in_summary:
            run.gpu(int(summary.group(1))).summary = summary.group(2)
    errors = (stderr or "").strip()
    if "No CUDA devices" in errors:
        run.problems.append("gpu-burn found no CUDA device")
    if INIT_FAILED in errors:
        run.problems.append("gpu-burn could not start a GPU test: %s" % _first_line(errors, INIT_FAILED))
    if timed_out:
        run.problems.append("the run did not end in time and was killed (hung)")
    elif status == 124 and INIT_FAILED not in errors:
        run.problems.append("the run was killed by timeout (exit 124)")
    elif status in EXIT_MEANINGS:
        run.problems.append("gpu-burn exited %d: %s" % (status, EXIT_MEANINGS[status]))
    elif status not in (0, None, 124):
        run.problems.append("gpu-burn exited %d" % status)
    if run.tested is None and not run.problems:
        run.problems.append("gpu-burn printed no summary (Tested N GPUs)")
    return run


def _first_line(text: str, marker: str) -> str:
    for line in text.splitlines():
        if marker in line:
            return line.strip()
    return marker


def gpu_failures(run: BurnRun, position: int) -> List[str]:
    """Why the GPU at `position` failed this run (empty: it passed gpu-burn)."""
    reasons = list(run.problems)
    gpu = run.gpus.get(position)
    if gpu is None:
        return reasons + ["gpu-burn did not test it"]
    if gpu.summary == "FAULTY" or gpu.errors:
        reasons.append("compare errors (%d in one interval)" % gpu.errors if gpu.errors else "gpu-burn marked it FAULTY")
    if gpu.died:
        reasons.append("its gpu-burn worker died")
    if run.tested is not None and gpu.summary is None:
        reasons.append("missing from gpu-burn's summary (%d GPUs tested)" % run.tested)
    if not gpu.gflops and not run.problems:
        reasons.append("no throughput measured")
    return reasons
