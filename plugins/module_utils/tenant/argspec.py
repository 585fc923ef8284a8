# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The options of one tenant, shared by gpulab.dgx.tenant (one) and gpulab.dgx.tenants (a host's list),
and the check of one list item against them."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import unreadable_ints

TENANT_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    image=dict(type="str"),
    gpus=dict(type="int", default=0),
    mig=dict(type="dict"),
    gpu_share=dict(type="dict"),
    cpus=dict(type="int"),
    memory=dict(type="str"),
    disk=dict(type="str"),
    disk_enforcement=dict(type="bool", default=True),
    # no_log: a private key pasted here by mistake must not reach Ansible's output or logs.
    ssh_public_keys=dict(type="list", elements="str", no_log=True),
    ssh_port=dict(type="int"),
    ssh_port_range=dict(type="str", default="2200-2999"),
    ssh_bind_address=dict(type="str", default="0.0.0.0"),
    data_base=dict(type="path", default="/var/lib/gpulab/tenants"),
    data_root=dict(type="path"),
    data_mount=dict(type="str", default="/data"),
    numa_policy=dict(type="str", choices=["strict", "best-effort"], default="strict"),
    topology=dict(type="dict"),
    env=dict(type="dict"),
    labels=dict(type="dict"),
    network=dict(type="str", default="bridge"),
    pids_limit=dict(type="int", default=16384),
    shm_size=dict(type="str"),
    ulimits=dict(type="dict"),
    purge=dict(type="bool", default=False),
    archive_to=dict(type="path"),
    docker_host=dict(type="str"),
    lock_path=dict(type="path", default="/run/lock/gpulab-tenant.lock"),
    lock_timeout=dict(type="int", default=300),
    verify=dict(type="str", choices=["none", "changed", "all"], default="none"),
    verify_parallel=dict(type="int", default=8),
    verify_timeout=dict(type="int", default=30),
)
TENANT_REQUIRED_IF: List[Tuple[str, str, Tuple[str, ...]]] = [
    ("state", "present", ("image", "cpus", "memory", "ssh_public_keys"))]
# Options that belong to the host and the run, not to one tenant: the batch module takes them once.
HOST_OPTIONS = ("topology", "docker_host", "lock_path", "lock_timeout", "verify", "verify_parallel", "verify_timeout")
# A list item's options over the batch's defaults: these merge key by key, the rest replace.
MERGED_OPTIONS = ("ulimits",)


# One item of gpulab.dgx.tenants: the same options without their defaults (left out, an option comes
# from the module's `defaults`, then from the one-tenant default) and without the run's options.
# Declared as the list's suboptions so that ssh_public_keys is no_log from the first moment.
TENANTS_ITEM_SPEC: Dict[str, Dict[str, Any]] = dict(
    (name, dict((k, v) for k, v in option.items() if k != "default"))
    for name, option in TENANT_ARGUMENT_SPEC.items() if name not in HOST_OPTIONS)
# The batch's `defaults`: the same options but a name, none required; declared too, so that a key
# given there is no_log as well.
TENANTS_DEFAULTS_SPEC: Dict[str, Dict[str, Any]] = dict(
    (name, dict((k, v) for k, v in option.items() if k != "required"))
    for name, option in TENANTS_ITEM_SPEC.items() if name != "name")


def item_params(item: Dict[str, Any], defaults: Dict[str, Any], host: Dict[str, Any]) -> Dict[str, Any]:
    """One list item as the one-tenant module would receive it: defaults, then the item, then the host's options."""
    params = dict(defaults)
    for key, value in item.items():
        if key in MERGED_OPTIONS and isinstance(value, dict) and isinstance(params.get(key), dict):
            params[key] = dict(params[key], **value)
        else:
            params[key] = value
    params.update(host)
    return params


def check_item(params: Dict[str, Any]) -> Tuple[Dict[str, Any], List[str]]:
    """(the item with types and defaults applied, the argument errors) under the one-tenant spec."""
    bad = ["%s: %r is not a whole number" % found for found in unreadable_ints(TENANT_ARGUMENT_SPEC, params)]
    if bad:  # ansible-core's int check would raise on these instead of reporting them
        return params, bad
    result = ArgumentSpecValidator(TENANT_ARGUMENT_SPEC, required_if=TENANT_REQUIRED_IF).validate(params)
    return result.validated_parameters, [str(e) for e in result.errors]


def run_option_problem(params: Dict[str, Any]) -> Optional[Tuple[str, Any, str]]:
    """(option, value, why) for a run option (parallelism, verification) out of its range, else None."""
    for name, least, most in (("verify_parallel", 1, 64), ("verify_timeout", 0, 3600), ("parallel", 1, 32)):
        value = params.get(name)
        if value is not None and not least <= value <= most:
            return name, value, "must be from %d to %d" % (least, most)
    return None
