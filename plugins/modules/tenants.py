#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tenants
short_description: Bring a GPU host's whole list of tenants to their state in one run
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - The batch form of M(gpulab.dgx.tenant), with the same rules, refusals, placement and results per
    tenant, in one module run for any number of tenants instead of one run per tenant.
  - Every item is checked first, against the options of M(gpulab.dgx.tenant); when any is bad, all bad
    items are reported together and nothing changes.
  - Then, under the host-wide lock taken once and with every container on the daemon read once, the
    tenants are checked and placed in the order given, each around what the ones before it will hold
    (order stable between runs); then their containers are created, started or updated, up to
    O(parallel) at a time. A tenant whose run fails is undone and reported; the others keep their work
    and the module fails naming the tenants that failed.
  - With O(verify), the containers are then read from inside (see O(verify)).
  - The host's topology is read once per run, not per tenant.
options:
  tenants:
    description:
      - The tenants, each a dict of the options of M(gpulab.dgx.tenant) (C(name), C(state), C(image),
        C(gpus), C(cpus), C(memory), C(disk), C(ssh_public_keys), ...) except O(topology), O(docker_host),
        O(lock_path), O(lock_timeout) and the O(verify) options, which belong to the run.
      - Names must be unique.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
        - Tenant name; also the container name and the host name inside it.
        type: str
        required: true
      state:
        description:
        - C(present) to create or update the tenant, C(absent) to stop and remove its container.
        - Default O(defaults), else C(present).
        type: str
        choices:
        - present
        - absent
      image:
        description:
        - Image to run (already on the host; it is never pulled). Required when O(tenants[].state=present).
        type: str
      gpus:
        description:
        - Number of whole GPUs to dedicate.
        - Default O(defaults), else C(0).
        type: int
      mig:
        description:
        - "MIG instances instead of whole GPUs, as C({profile: 1g.10gb, count: 1}) (C(count) defaults to 1)."
        - Placement and limits as in M(gpulab.dgx.tenant); cannot be combined with C(gpus).
        type: dict
      gpu_share:
        description:
        - "Shared whole GPUs instead of dedicated ones, as C({gpus: 1, mode: time-slice}) (the defaults)."
        - Placement and caveats as in M(gpulab.dgx.tenant); cannot be combined with C(gpus) or C(mig).
        type: dict
      cpus:
        description:
        - Number of logical CPUs to dedicate (pinned with C(--cpuset-cpus), capped with a CPU quota of the same size,
          memory pinned to their NUMA nodes with C(--cpuset-mems)). Required when O(tenants[].state=present).
        - V(0) dedicates no cores. The container is not pinned and has no CPU quota, so it competes for every CPU of
          the host at the default weight. Use it for light tenants only.
        type: int
      memory:
        description:
        - Memory limit, e.g. C(128G), C(512GiB), C(1.5T). Units are binary as Docker reads them (G = GiB). Swap is not
          added. Required when O(tenants[].state=present).
        type: str
      disk:
        description:
        - Size of the container's root filesystem (C(--storage-opt size)) and an xfs project quota of the same size
          on the data directory. Needs overlay2 on xfs mounted with C(pquota).
        type: str
      disk_enforcement:
        description:
        - When the host cannot enforce O(tenants[].disk), V(true) fails with the reason and V(false) goes on without a disk limit,
          recording the size in the container's labels and returning a warning.
        - Default O(defaults), else C(true).
        type: bool
      ssh_public_keys:
        description:
        - OpenSSH public keys allowed to log in (one key per item). Required when O(tenants[].state=present).
        type: list
        elements: str
      ssh_port:
        description:
        - Host port for the tenant's SSH. Default is a stable port from O(tenants[].ssh_port_range), kept across re-creation.
        type: int
      ssh_port_range:
        description:
        - Range the SSH port is picked from when O(tenants[].ssh_port) is not given.
        - Default O(defaults), else C(2200-2999).
        type: str
      ssh_bind_address:
        description:
        - Host address the SSH port is published on.
        - Default O(defaults), else C(0.0.0.0).
        type: str
      data_base:
        description:
        - Directory under which every tenant's persistent data lives; this tenant's is C(<data_base>/<name>), mounted
          at O(tenants[].data_mount). Kept on re-creation and on removal unless O(tenants[].purge=true).
        - Must be an absolute path without symlinks, not a system directory (C(/etc), C(/usr), C(/var/lib/docker), C(/run),
          C(/proc), C(/sys), C(/dev), C(/boot), C(/root), ...) nor a shared one (C(/), C(/home), C(/raid), C(/tmp),
          ...). A tenant directory never overlaps another tenant's or a non-tenant container's bind mount. See docs/tenant.md,
          "What the module refuses, and why".
        - Default O(defaults), else C(/var/lib/gpulab/tenants).
        type: path
      data_root:
        description:
        - Kept for inventories written before O(tenants[].data_base). A tenant's directory is always C(<data_base>/<name>); a
          O(tenants[].data_root) given must be exactly that path, anything else is refused naming it.
        type: path
      data_mount:
        description:
        - Where the data directory appears inside the container.
        - Default O(defaults), else C(/data).
        type: str
      numa_policy:
        description:
        - C(strict) takes CPUs only from the GPUs' NUMA nodes; C(best-effort) may spill to the nearest node and says
          so.
        - Default O(defaults), else C(strict).
        type: str
        choices:
        - strict
        - best-effort
      env:
        description:
        - Extra environment for the container. C(NVIDIA_VISIBLE_DEVICES) and C(GPULAB_*) are reserved.
        type: dict
      labels:
        description:
        - Extra container labels. The C(gpulab.) prefix is reserved.
        type: dict
      network:
        description:
        - Docker bridge network the container joins (its SSH port is published from it).
        - Default O(defaults), else C(bridge).
        type: str
      pids_limit:
        description:
        - Most processes the container may run.
        - Default O(defaults), else C(16384).
        type: int
      shm_size:
        description:
        - Size of the container's C(/dev/shm) (C(--shm-size)), written like O(tenants[].memory), e.g. C(1G), C(512M).
        - Default is computed from O(tenants[].memory) as max(memory / 4, min(1 GiB, memory / 2)), in whole MiB (C(32M) for C(64M),
          C(1G) for C(2G), C(32G) for C(128G)).
        - Files in C(/dev/shm) count against the container's memory limit, so a size above O(tenants[].memory) is refused.
        - C(/dev/shm) cannot change on a live container; a new size (the default's too, when O(tenants[].memory) changes) recreates
          the container.
        type: str
      ulimits:
        description:
        - Resource limits of the container's processes (C(--ulimit)), as a mapping of limit name to a whole number (soft
          and hard limit alike) or a C(soft:hard) string; V(-1) is unlimited. C(memlock), C(stack), C(rss), C(data),
          C(fsize) and C(core) are in bytes, C(cpu) and C(rttime) in seconds and microseconds.
        - Names are Docker's C(core), C(cpu), C(data), C(fsize), C(locks), C(memlock), C(msgqueue), C(nice), C(nofile),
          C(nproc), C(rss), C(rtprio), C(rttime), C(sigpending), C(stack).
        - Default is C(memlock) V(-1) (unlimited locked memory, for RDMA and GPUDirect) and C(stack) V(67108864) (64
          MiB). A given mapping replaces the defaults it names and keeps the others.
        - Raising a hard limit above dockerd's own needs C(CAP_SYS_RESOURCE), which a rootless or unprivileged dockerd
          lacks; there give limits within dockerd's own (often C(memlock) V(8388608)).
        - A change recreates the container.
        type: dict
      purge:
        description:
        - With O(tenants[].state=absent), also delete the data directory recorded in the tenant's own container label (or C(<data_base>/<name>)
          when it has no container), only inside O(tenants[].data_base), without following symlinks, and never when another tenant's
          directory overlaps it.
        - Default O(defaults), else C(false).
        type: bool
      archive_to:
        description:
        - With O(tenants[].purge=true), first write the data directory to C(<archive_to>/<name>-<UTC time>.tar.gz) (mode 0600),
          fsynced before anything is deleted. Must lie outside O(tenants[].data_base) and every tenant directory.
        type: path
  defaults:
    description:
      - Options every item starts from (for example C(data_base), C(network), C(ssh_port_range),
        C(shm_size)); an item's own value replaces them, but its C(ulimits) add to those of O(defaults).
    type: dict
    default: {}
    suboptions:
      state:
        description:
        - C(present) to create or update the tenant, C(absent) to stop and remove its container.
        - Default C(present).
        type: str
        choices:
        - present
        - absent
      image:
        description:
        - Image to run (already on the host; it is never pulled). Required when O(defaults.state=present).
        type: str
      gpus:
        description:
        - Number of whole GPUs to dedicate.
        - Default C(0).
        type: int
      mig:
        description:
        - "MIG instances instead of whole GPUs, as C({profile: 1g.10gb, count: 1}) (C(count) defaults to 1)."
        - Placement and limits as in M(gpulab.dgx.tenant); cannot be combined with C(gpus).
        type: dict
      gpu_share:
        description:
        - "Shared whole GPUs instead of dedicated ones, as C({gpus: 1, mode: time-slice}) (the defaults)."
        - Placement and caveats as in M(gpulab.dgx.tenant); cannot be combined with C(gpus) or C(mig).
        type: dict
      cpus:
        description:
        - Number of logical CPUs to dedicate (pinned with C(--cpuset-cpus), capped with a CPU quota of the same size,
          memory pinned to their NUMA nodes with C(--cpuset-mems)). Required when O(defaults.state=present).
        - V(0) dedicates no cores. The container is not pinned and has no CPU quota, so it competes for every CPU of
          the host at the default weight. Use it for light tenants only.
        type: int
      memory:
        description:
        - Memory limit, e.g. C(128G), C(512GiB), C(1.5T). Units are binary as Docker reads them (G = GiB). Swap is not
          added. Required when O(defaults.state=present).
        type: str
      disk:
        description:
        - Size of the container's root filesystem (C(--storage-opt size)) and an xfs project quota of the same size
          on the data directory. Needs overlay2 on xfs mounted with C(pquota).
        type: str
      disk_enforcement:
        description:
        - When the host cannot enforce O(defaults.disk), V(true) fails with the reason and V(false) goes on without a disk limit,
          recording the size in the container's labels and returning a warning.
        - Default C(true).
        type: bool
      ssh_public_keys:
        description:
        - OpenSSH public keys allowed to log in (one key per item). Required when O(defaults.state=present).
        type: list
        elements: str
      ssh_port:
        description:
        - Host port for the tenant's SSH. Default is a stable port from O(defaults.ssh_port_range), kept across re-creation.
        type: int
      ssh_port_range:
        description:
        - Range the SSH port is picked from when O(defaults.ssh_port) is not given.
        - Default C(2200-2999).
        type: str
      ssh_bind_address:
        description:
        - Host address the SSH port is published on.
        - Default C(0.0.0.0).
        type: str
      data_base:
        description:
        - Directory under which every tenant's persistent data lives; this tenant's is C(<data_base>/<name>), mounted
          at O(defaults.data_mount). Kept on re-creation and on removal unless O(defaults.purge=true).
        - Must be an absolute path without symlinks, not a system directory (C(/etc), C(/usr), C(/var/lib/docker), C(/run),
          C(/proc), C(/sys), C(/dev), C(/boot), C(/root), ...) nor a shared one (C(/), C(/home), C(/raid), C(/tmp),
          ...). A tenant directory never overlaps another tenant's or a non-tenant container's bind mount. See docs/tenant.md,
          "What the module refuses, and why".
        - Default C(/var/lib/gpulab/tenants).
        type: path
      data_root:
        description:
        - Kept for inventories written before O(defaults.data_base). A tenant's directory is always C(<data_base>/<name>); a
          O(defaults.data_root) given must be exactly that path, anything else is refused naming it.
        type: path
      data_mount:
        description:
        - Where the data directory appears inside the container.
        - Default C(/data).
        type: str
      numa_policy:
        description:
        - C(strict) takes CPUs only from the GPUs' NUMA nodes; C(best-effort) may spill to the nearest node and says
          so.
        - Default C(strict).
        type: str
        choices:
        - strict
        - best-effort
      env:
        description:
        - Extra environment for the container. C(NVIDIA_VISIBLE_DEVICES) and C(GPULAB_*) are reserved.
        type: dict
      labels:
        description:
        - Extra container labels. The C(gpulab.) prefix is reserved.
        type: dict
      network:
        description:
        - Docker bridge network the container joins (its SSH port is published from it).
        - Default C(bridge).
        type: str
      pids_limit:
        description:
        - Most processes the container may run.
        - Default C(16384).
        type: int
      shm_size:
        description:
        - Size of the container's C(/dev/shm) (C(--shm-size)), written like O(defaults.memory), e.g. C(1G), C(512M).
        - Default is computed from O(defaults.memory) as max(memory / 4, min(1 GiB, memory / 2)), in whole MiB (C(32M) for C(64M),
          C(1G) for C(2G), C(32G) for C(128G)).
        - Files in C(/dev/shm) count against the container's memory limit, so a size above O(defaults.memory) is refused.
        - C(/dev/shm) cannot change on a live container; a new size (the default's too, when O(defaults.memory) changes) recreates
          the container.
        type: str
      ulimits:
        description:
        - Resource limits of the container's processes (C(--ulimit)), as a mapping of limit name to a whole number (soft
          and hard limit alike) or a C(soft:hard) string; V(-1) is unlimited. C(memlock), C(stack), C(rss), C(data),
          C(fsize) and C(core) are in bytes, C(cpu) and C(rttime) in seconds and microseconds.
        - Names are Docker's C(core), C(cpu), C(data), C(fsize), C(locks), C(memlock), C(msgqueue), C(nice), C(nofile),
          C(nproc), C(rss), C(rtprio), C(rttime), C(sigpending), C(stack).
        - Default is C(memlock) V(-1) (unlimited locked memory, for RDMA and GPUDirect) and C(stack) V(67108864) (64
          MiB). A given mapping replaces the defaults it names and keeps the others.
        - Raising a hard limit above dockerd's own needs C(CAP_SYS_RESOURCE), which a rootless or unprivileged dockerd
          lacks; there give limits within dockerd's own (often C(memlock) V(8388608)).
        - A change recreates the container.
        type: dict
      purge:
        description:
        - With O(defaults.state=absent), also delete the data directory recorded in the tenant's own container label (or C(<data_base>/<name>)
          when it has no container), only inside O(defaults.data_base), without following symlinks, and never when another tenant's
          directory overlaps it.
        - Default C(false).
        type: bool
      archive_to:
        description:
        - With O(defaults.purge=true), first write the data directory to C(<archive_to>/<name>-<UTC time>.tar.gz) (mode 0600),
          fsynced before anything is deleted. Must lie outside O(defaults.data_base) and every tenant directory.
        type: path
  topology:
    description:
      - Host topology as gpulab.dgx.gpu_info returns it. Default is to read the host once (GPUs through
        NVML, else nvidia-smi; CPUs and NUMA nodes from sysfs).
    type: dict
  lock_path:
    description: The host-wide lock file shared with M(gpulab.dgx.tenant).
    type: path
    default: /run/lock/gpulab-tenant.lock
  lock_timeout:
    description: Seconds to wait for another rollout holding the lock.
    type: int
    default: 300
  parallel:
    description:
      - Most containers created, started, updated or removed at once (threads of the module, 1 to 32),
        once every tenant has been checked and placed in order. Docker starts containers faster side by
        side than one after another.
      - Removals placed before a present tenant in O(tenants) are done in order, before it is placed, so
        that what they free can be given to it; removals after the last present tenant run side by side
        with the rest.
    type: int
    default: 4
extends_documentation_fragment:
  - gpulab.dgx.docker
  - gpulab.dgx.tenant_verify
attributes:
  check_mode:
    support: full
    description: Reports what each tenant would get, placing each around the ones before it; changes nothing.
  diff_mode:
    support: full
    description: Each result has its tenant's before and after.
  idempotent:
    support: full
    description: The same list again changes nothing.
notes:
  - The options of each item are documented with M(gpulab.dgx.tenant).
"""

EXAMPLES = r"""
- name: Bring every tenant of this host to its state
  gpulab.dgx.tenants:
    defaults:
      data_base: /raid/gpulab/tenants
      shm_size: 16G
    tenants:
      - name: alice
        image: gpulab/tenant:ubuntu22.04-cuda12.4.1-devel
        gpus: 2
        cpus: 16
        memory: 128G
        ssh_public_keys: ["ssh-ed25519 AAAA... alice@laptop"]
      - name: bob
        state: absent
  register: rollout

- name: Names of the tenants that changed
  ansible.builtin.debug:
    msg: "{{ rollout.tenants | dict2items | selectattr('value.changed') | map(attribute='key') | list }}"
"""

RETURN = r"""
tenants:
  description:
    - Each tenant's result by name, as M(gpulab.dgx.tenant) returns it (C(changed), C(tenant), C(actions),
      C(diff), C(warnings), C(verified) and C(verified_summary) when O(verify) read its container), with
      C(failed) and, for a failed tenant, C(msg), C(field), C(value), C(undone)
      and C(not_undone).
  returned: always
  type: dict
  sample: {"alice": {"changed": true, "failed": false, "actions": ["mkdir", "create"], "tenant": {"ssh_port": 2201}}}
present:
  description: The C(tenant) result of every tenant that is present after the run, in the order given (what
    M(gpulab.dgx.handoff_notes) takes).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "alice", "ssh_port": 2201, "gpus": ["GPU-5d1c..."], "cpuset": "0-15"}]
order:
  description: The tenant names in the order they were run.
  returned: always
  type: list
  elements: str
  sample: [alice, bob]
errors:
  description: Every bad item, when the list was refused before anything changed, with C(item) (its position
    and name), C(msg), and C(field) and C(value) where one option is to blame.
  returned: failure
  type: list
  elements: dict
failed_tenants:
  description: The tenants whose run failed (each undone); the others kept their work.
  returned: failure
  type: list
  elements: str
"""

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module
from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import nvidia_smi_runner
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.argspec import (
    HOST_OPTIONS, TENANT_ARGUMENT_SPEC, TENANTS_DEFAULTS_SPEC, TENANTS_ITEM_SPEC, run_option_problem)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.batch import check_items
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.host import read_host_topology

try:
    from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.run import present_tenants, run_tenants, verify_settled
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()


def main():
    module = new_module(
        argument_spec=dict(
            tenants=dict(type="list", elements="dict", required=True, options=TENANTS_ITEM_SPEC),
            defaults=dict(type="dict", default={}, options=TENANTS_DEFAULTS_SPEC),
            topology=dict(type="dict"),
            docker_host=dict(type="str"),
            lock_path=dict(type="path", default="/run/lock/gpulab-tenant.lock"),
            lock_timeout=dict(type="int", default=300),
            verify=TENANT_ARGUMENT_SPEC["verify"],
            verify_parallel=TENANT_ARGUMENT_SPEC["verify_parallel"],
            verify_timeout=TENANT_ARGUMENT_SPEC["verify_timeout"],
            parallel=dict(type="int", default=4),
        ),
        supports_check_mode=True,
    )
    host = dict((key, module.params[key]) for key in HOST_OPTIONS)
    problem = run_option_problem(dict(host, parallel=module.params["parallel"]))
    if problem:
        module.fail_json(msg="%s: %r %s" % problem, field=problem[0], value=problem[1], tenants={}, order=[])
    specs, errors = check_items(module.params["tenants"], module.params["defaults"], host)
    host["parallel"] = module.params["parallel"]
    if errors:
        module.fail_json(msg="; ".join(e["msg"] for e in errors), errors=errors, tenants={}, order=[])
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    try:
        settled = run_tenants(specs, host, lambda argv: module.run_command(argv, check_rc=True),
                              lambda: read_host_topology(require_gpus=False, run=nvidia_smi_runner(module)),
                              module.check_mode)
        if not module.check_mode:
            verify_settled(settled, host["docker_host"], host["verify"], host["verify_parallel"], host["verify_timeout"])
    except SpecError as exc:
        module.fail_json(msg=str(exc), field=exc.field, value=exc.value, tenants={}, order=[s.name for s in specs])
    results = dict((s.spec.name, s.result()) for s in settled)
    for name in results:
        for warning in results[name].get("warnings") or []:
            module.warn("%s: %s" % (name, warning))
    failed = [name for name in results if results[name]["failed"]]
    changed = any(r["changed"] for r in results.values())
    order = [s.spec.name for s in settled]
    if failed:
        module.fail_json(msg="; ".join("%s: %s" % (n, results[n]["msg"]) for n in failed), failed_tenants=failed,
                         changed=changed, tenants=results, order=order, present=present_tenants(settled))
    module.exit_json(changed=changed, tenants=results, order=order, present=present_tenants(settled))


if __name__ == "__main__":
    main()
