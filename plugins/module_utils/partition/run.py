# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpulab.dgx.gpu_partition's run: read the GPUs, the ledger and the layout; refuse before any change;
apply; read the GPUs again and check them against the layout; then move MIG tenants whose instances were
created again (a reboot) onto the new UUIDs in their slots."""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.gpulab.dgx.plugins.module_utils.common.errors import FieldError
from ansible_collections.gpulab.dgx.plugins.module_utils.docker.client import DockerUnreachable, connect
from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import nvidia_smi_runner
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.apply import ApplyError, apply_changes, mismatches
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.boot import remap_tenants
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.layout import read_layout
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.plan import held_gpus, plan, waiting_slots
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import read_ledger
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.host import read_host_topology
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.ids import gpu_ids
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import TopologyError


def run_partition(module: Any) -> Dict[str, Any]:
    params = module.params
    run = nvidia_smi_runner(module, params["nvidia_smi"])

    def read() -> Dict[str, Any]:
        return read_host_topology(run=run)

    try:
        topology = read()
    except TopologyError as exc:
        module.fail_json(msg="GPUs: %s" % exc)
    try:
        desired = read_layout(params["config"], params["name"], [int(g["index"]) for g in topology["gpus"]])
    except FieldError as exc:
        module.fail_json(msg=str(exc))
    try:
        client = connect(params["docker_host"])
        ledger = read_ledger(client)
    except DockerUnreachable as exc:
        module.fail_json(msg="docker_host: %s" % exc)
    _to_id, to_index = gpu_ids(topology)
    records = list(ledger.tenants.values()) + list(ledger.leftovers.values())
    changes, refusals = plan(topology, desired, held_gpus(records, to_index), waiting_slots(records, to_index))
    if refusals:
        module.fail_json(msg="nothing was changed: " + "; ".join(refusals), refusals=refusals)
    result: Dict[str, Any] = {"changed": bool(changes), "changes": [c.as_dict() for c in changes]}
    if module.check_mode or not changes:
        result["gpus"] = topology["gpus"]
        return _remap(module, client, topology, result, ledger)
    try:
        apply_changes(changes, run, read)
    except ApplyError as exc:
        module.fail_json(msg="%s; this run's changes were put back: %s" % (exc, "; ".join(exc.rollback) or "nothing to undo"),
                         commands=exc.done, rollback=exc.rollback)
    try:
        after = read()
    except TopologyError as exc:
        module.fail_json(msg="GPUs after the change: %s" % exc, **result)
    wrong = mismatches(after, desired)
    if wrong:
        module.fail_json(msg="after the change, GPU(s) differ from the layout: %s"
                         % "; ".join("GPU %d %s" % w if w[0] >= 0 else w[1] for w in wrong), **result)
    result["gpus"] = after["gpus"]
    return _remap(module, client, after, result, ledger)


def _remap(module: Any, client: Any, topology: Dict[str, Any], result: Dict[str, Any], ledger: Any) -> Dict[str, Any]:
    """MIG tenants onto the instances now in their slots (the ledger read before: applying a layout changes no
    container); their names when some cannot be moved (warnings: the layout itself is applied)."""
    try:
        moved = remap_tenants(client, topology, module.check_mode, ledger)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="the layout is applied, but moving MIG tenants onto their new instances failed "
                         "(that tenant's container was put back): %s" % exc, **result)
    for problem in moved["problems"]:
        module.warn(problem)
    result["remapped"] = moved["remapped"]
    result["changed"] = result["changed"] or moved["changed"]
    return result
