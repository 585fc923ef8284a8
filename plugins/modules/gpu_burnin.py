#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_burnin
short_description: Burn in a host's GPUs and decide, per GPU, whether it passed
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Runs a GPU stress program (gpu-burn, or any program printing its output format) in containers of
    O(image) on the GPUs under test, one container per GPU (O(mode=each)) or one for all (O(mode=all)),
    for O(seconds), while sampling every GPU through NVML (temperature, power, clocks, clock event reasons)
    every O(sample_interval) seconds. The run stops early when a GPU comes within O(stop_margin) degrees of
    its slowdown temperature.
  - Before the run it reads each GPU's temperature limits (NVML, else C(nvidia-smi -q -d TEMPERATURE) in
    either of its forms), ECC counters and retired/remapped rows, persistence mode, and the kernel log's
    XID errors; after it, the counters and XIDs again; then runs C(dcgmi diag -r <level>) for each of
    O(dcgm_levels) when DCGM is installed, each under O(dcgm_timeout); then, with O(check_image), the tenant
    image's C(gpulab-check) on each GPU.
  - Decides itself (docs/burnin.md lists the rules); a GPU fails on compare errors, FAULTY or a dead worker
    (gpu-burn exits 0 for those), a run that failed or hung, a temperature above its max operating
    temperature less O(temp_margin) (or above O(temp_cap)), a thermal, hardware-slowdown or power-brake clock
    event, grown ECC or row counters, an XID during the run, a DCGM failure, a DCGM level that hung or gave
    nothing, a failed in-container check, or throughput more than O(perf_tolerance) percent below the median of
    the host's GPUs of its model. A skipped DCGM test is a warning, never a pass.
  - Refuses to run when a tenant holds any GPU, unless O(gpus) names only free ones. Leaves nothing behind;
    its containers carry the C(gpulab.burnin) label and are removed, also after a failure.
  - The module does not fail on a failed verdict; it returns the report (RV(report)), and the role
    gpulab.dgx.gpu_burnin writes it and fails the play.
  - Needs the Docker SDK for Python and pynvml (nvidia-ml-py) on the host; Docker must accept GPU requests
    (the NVIDIA Container Toolkit).
options:
  image:
    description: The stress image (the role builds gpu-burn from source into one).
    type: str
    required: true
  command:
    description: The stress program and its arguments in the image; C({seconds}) is replaced by O(seconds).
    type: list
    elements: str
    default: [gpu_burn, "{seconds}"]
  seconds:
    description: How long the stress runs (10 to 172800). Use 3600 to 7200 for an acceptance.
    type: int
    default: 600
  mode:
    description: C(each) runs one container per GPU, all at once; C(all) one container holding every GPU under test.
    type: str
    choices: [each, all]
    default: each
  gpus:
    description: Indices of the GPUs to test (all GPUs when unset). Required while tenants hold GPUs; none of them may be held.
    type: list
    elements: int
  expected_gpus:
    description: How many GPUs the host must show; fewer fails the host.
    type: int
  sample_interval:
    description: Seconds between NVML samples (1 to 60).
    type: float
    default: 5.0
  grace:
    description: Seconds past O(seconds) before a run that has not ended is taken as hung and killed.
    type: int
    default: 120
  stop_margin:
    description: Stop the run when a GPU is this many degrees C (or fewer) below its slowdown temperature.
    type: int
    default: 2
  temp_margin:
    description: A GPU fails above its max operating temperature less this many degrees C.
    type: int
    default: 5
  temp_cap:
    description: An absolute temperature a GPU must not exceed, in degrees C (for example 85), on top of its model's limit.
    type: int
  perf_tolerance:
    description: A GPU fails when its Gflop/s are this many percent below the median of the host's GPUs of its model.
    type: float
    default: 10.0
  dcgm_levels:
    description: The C(dcgmi diag -r) levels to run when C(dcgmi) is installed (1 to 4; empty for none).
    type: list
    elements: int
    default: [2]
  dcgm_timeout:
    description: Seconds each DCGM level may take before it is killed and counted as a failure.
    type: int
    default: 1800
  check_image:
    description: A tenant image; its C(gpulab-check) runs on each GPU after the burn (skipped when unset).
    type: str
  check_command:
    description: The check program and its arguments in O(check_image).
    type: list
    elements: str
    default: [/usr/local/bin/gpulab-check]
  check_timeout:
    description: Seconds each in-container check may take.
    type: int
    default: 600
  metrics_file:
    description: A C(.prom) file in node_exporter's textfile directory to write C(gpulab_burnin_*) series to (atomically).
    type: path
requirements:
  - pynvml (nvidia-ml-py) on the managed host
attributes:
  check_mode:
    support: full
    description: Refuses what a real run would refuse and reports the GPUs it would test and for how long; runs nothing.
  diff_mode:
    support: none
    description: A burn-in is a test, not a state; there is no diff.
  idempotent:
    support: full
    description: Leaves the host as it found it (its containers are removed; only O(metrics_file) is rewritten), so C(changed) is false.
extends_documentation_fragment:
  - gpulab.dgx.docker
"""

EXAMPLES = r"""
- name: Burn in every GPU for two hours, then DCGM's level 3
  gpulab.dgx.gpu_burnin:
    image: gpulab/gpu-burn:cuda12.4
    command: [gpu_burn, -tc, "{seconds}"]
    seconds: 7200
    expected_gpus: 8
    dcgm_levels: [3]
    check_image: gpulab/ubuntu22.04-cuda12.4:latest
  register: burnin

- name: Test only GPUs 6 and 7 while tenants hold the others
  gpulab.dgx.gpu_burnin:
    image: gpulab/gpu-burn:cuda12.4
    gpus: [6, 7]
    seconds: 600
"""

RETURN = r"""
verdict:
  description: C(pass) or C(fail) for the host.
  returned: success
  type: str
  sample: fail
failed_gpus:
  description: Indices of the GPUs that failed.
  returned: success
  type: list
  elements: int
  sample: [3]
report:
  description: The whole report (host facts, per-GPU verdict, reasons and warnings, Gflop/s, temperatures against limits,
    clock events, ECC counters, DCGM rows, durations). docs/burnin.md describes it.
  returned: success
  type: dict
plan:
  description: In check mode, the GPUs that would be tested, the containers and the seconds.
  returned: check mode
  type: dict
"""

import shutil
import traceback


from ansible_collections.gpulab.dgx.plugins.module_utils.burnin.commands import command_runner
from ansible_collections.gpulab.dgx.plugins.module_utils.burnin.flow import Refused, burnin, choose, held_gpus
from ansible_collections.gpulab.dgx.plugins.module_utils.burnin.metrics import burnin_series
from ansible_collections.gpulab.dgx.plugins.module_utils.burnin.nvml import Nvml, NvmlUnavailable
from ansible_collections.gpulab.dgx.plugins.module_utils.burnin.options import ARGUMENT_SPEC, check_params
from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module, require_docker_sdk
from ansible_collections.gpulab.dgx.plugins.module_utils.docker.client import DockerUnreachable, connect, resolve_host
from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.write import write_atomic
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import read_ledger


def main():
    module = new_module(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    require_docker_sdk(module)
    session = None
    try:
        params = check_params(module.params)
        try:
            import pynvml  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise Refused("nvml", "pynvml", "is not installed for this Python (%s): install nvidia-ml-py" % exc)
        try:
            session = Nvml(pynvml)
        except NvmlUnavailable as exc:
            raise Refused("nvml", "NVML", "cannot watch the GPUs: %s" % exc)
        try:
            client = connect(params["docker_host"])
        except DockerUnreachable as exc:
            raise Refused("docker_host", resolve_host(params["docker_host"]), "cannot be reached: %s" % exc.reason)
        ledger = read_ledger(client)
        if module.check_mode:
            gpus = [session.identity(i) for i in range(session.count())]
            chosen = choose(gpus, params["gpus"], held_gpus(ledger, gpus))
            module.exit_json(changed=False, plan={"gpus": [g["index"] for g in chosen], "seconds": params["seconds"],
                                                  "mode": params["mode"], "containers": len(chosen) if params["mode"] == "each" else 1})
        report = burnin(params, client, session, ledger, command_runner(module), shutil.which("dcgmi") is not None)
        if params["metrics_file"]:
            write_atomic(params["metrics_file"], burnin_series(report).encode())
    except Refused as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="the burn-in failed: %s: %s" % (type(exc).__name__, exc), exception=traceback.format_exc())
    finally:
        if session is not None:
            session.close()
    module.exit_json(changed=False, verdict=report["verdict"], failed_gpus=report["failed_gpus"], report=report)


if __name__ == "__main__":
    main()
