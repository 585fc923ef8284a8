# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""MIG tenants after their instances were created again (a reboot: same layout, new UUIDs): which tenant
gets which new UUIDs (the ones in the slots its `gpulab.mig-slots` label records), and its container made
again from its own configuration with those device IDs. Nothing else about the tenant changes: the same
image, limits, port, keys and /data, the same spec hash (it covers slots, not UUIDs)."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import LABEL_GPUS
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import REPLACED_SUFFIX
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.mig import instance_index, is_mig_uuid, slot_instances

STOP_TIMEOUT = 10
# Fields of `docker inspect`'s Config that a container is created with again (the rest Docker derives).
_CONFIG_KEYS = (("Hostname", "hostname"), ("User", "user"), ("Env", "environment"), ("Cmd", "command"),
                ("Entrypoint", "entrypoint"), ("WorkingDir", "working_dir"), ("StopSignal", "stop_signal"),
                ("Tty", "tty"), ("OpenStdin", "stdin_open"), ("Domainname", "domainname"))


class Remap(object):
    """One tenant to move onto the instances now in its slots."""

    def __init__(self, name: str, container_id: str, before: List[str], after: List[str]) -> None:
        self.name = name
        self.container_id = container_id
        self.before = before
        self.after = after

    def as_dict(self) -> Dict[str, Any]:
        return {"tenant": self.name, "before": self.before, "after": self.after}


def plan_remap(records: List[Any], topology: Dict[str, Any], bystanders: Sequence[Any] = ()) -> Tuple[List[Remap], List[str]]:
    """(remaps, problems): every tenant holding a MIG UUID the GPUs no longer list, with the UUIDs now in
    its slots; a problem names a tenant that cannot be moved (no slot label, a slot missing from the
    layout, a slot another container holds) and what to do. `bystanders` (leftover containers) are never
    moved, but what they hold is taken."""
    instances = instance_index(topology)
    now = slot_instances(topology)
    live = set()
    for record in list(records) + list(bystanders):
        live.update(g for g in record.gpu_ids if g in instances)
    remaps: List[Remap] = []
    problems: List[str] = []
    for record in sorted(records, key=lambda r: r.name or r.container_name):
        gone = [g for g in record.gpu_ids if is_mig_uuid(g) and g not in instances]
        if not gone:
            continue
        name = record.name or record.container_name
        slots = list(record.mig_slots)
        if len(slots) != len(record.gpu_ids):
            problems.append("tenant %s holds MIG instance(s) %s that are gone, and its container records no slots "
                            "for them: apply the tenant again (playbooks/tenant.yml) to place it anew" % (name, ", ".join(gone)))
            continue
        missing = [s for s in slots if s not in now]
        if missing:
            problems.append("tenant %s: slot(s) %s are not in the GPUs' layout now (a GPU partitioned otherwise?): "
                            "apply the layout it was placed on, or apply the tenant again to place it anew"
                            % (name, ", ".join(missing)))
            continue
        after = [now[s] for s in slots]
        taken = [u for u in after if u in live]
        if taken:
            problems.append("tenant %s: its slot(s) now hold %s, which another container uses: apply the tenant again "
                            "to place it anew" % (name, ", ".join(taken)))
            continue
        live.update(after)
        remaps.append(Remap(name, record.id, list(record.gpu_ids), after))
    return remaps, problems


def create_args(attrs: Dict[str, Any], device_ids: List[str]) -> Dict[str, Any]:
    """Keyword arguments of the low-level create_container that make the inspected container again, its
    NVIDIA device request naming `device_ids` and its gpulab.gpus label following them."""
    config = dict(attrs.get("Config") or {})
    host = dict(attrs.get("HostConfig") or {})
    requests = []
    for request in host.get("DeviceRequests") or []:
        request = dict(request)
        if any(is_mig_uuid(g) for g in request.get("DeviceIDs") or []):
            request["DeviceIDs"] = list(device_ids)
        requests.append(request)
    host["DeviceRequests"] = requests or None
    labels = dict(config.get("Labels") or {})
    labels[LABEL_GPUS] = ",".join(device_ids)
    kwargs: Dict[str, Any] = {"image": config.get("Image") or attrs.get("Image"), "labels": labels,
                              "host_config": host, "ports": [_port(p) for p in sorted(config.get("ExposedPorts") or {})] or None,
                              "volumes": sorted((config.get("Volumes") or {}).keys()) or None}
    for key, arg in _CONFIG_KEYS:
        if config.get(key) not in (None, "", []):
            kwargs[arg] = config[key]
    return kwargs


def _port(exposed: str) -> Tuple[str, str]:
    """"22/tcp" as the (port, protocol) pair create_container takes."""
    port, _sep, proto = exposed.partition("/")
    return port, proto or "tcp"


def remap_container(client: Any, remap: Remap) -> str:
    """Make the tenant's container again on its new instances and start it; the old one is kept (renamed)
    until the new one runs, and put back if anything fails. The new container's ID."""
    api = client.api
    attrs = api.inspect_container(remap.container_id)
    name = (attrs.get("Name") or "").lstrip("/")
    was_running = bool((attrs.get("State") or {}).get("Running"))
    if was_running:
        api.stop(remap.container_id, timeout=STOP_TIMEOUT)
    api.rename(remap.container_id, name + REPLACED_SUFFIX)
    new_id = None
    try:
        new_id = api.create_container(name=name, **create_args(attrs, remap.after))["Id"]
        api.start(new_id)
    except Exception:
        if new_id is not None:
            api.remove_container(new_id, force=True)
        api.rename(remap.container_id, name)
        if was_running:
            api.start(remap.container_id)
        raise
    api.remove_container(remap.container_id, force=True)
    return new_id
