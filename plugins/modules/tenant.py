#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant
short_description: Place and run one tenant's SSH container on a GPU host, with Docker as the ledger
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Creates, updates or removes one tenant container on the GPU host it runs on.
  - Under one host-wide lock it reads every tenant's allocation back from Docker (container labels
    and HostConfig; no side file), places GPUs and CPUs only when the tenant is new or its request
    changed, then creates and starts the container.
  - The same spec again changes nothing. Memory and CPU quota are updated in place; a change of
    image, GPUs, CPU count, disk, port, keys, environment, labels, O(shm_size) or O(ulimits) recreates the
    container, keeping its GPUs where still valid, its SSH port and its data directory. With the default
    O(shm_size), which follows O(memory), a memory change recreates the container too.
  - Containers are ready for ML work by default, as NVIDIA runs its framework containers, with a C(/dev/shm)
    sized from the memory limit (Docker's own is 64 MiB, too small for PyTorch DataLoader workers and
    NCCL), unlimited locked memory (RDMA and GPUDirect registration) and a 64 MiB stack.
  - GPUs are given as Docker device requests (driver C(nvidia), GPU UUIDs when the topology has them).
    Tenants without GPUs get C(NVIDIA_VISIBLE_DEVICES=void).
  - Every bad input (unknown size unit, negative count, more GPUs, CPUs or memory than the host has
    free, a name or port in use, a malformed key, a data directory outside its confinement) fails
    before anything changes, naming the field and the value (a refused key is named by its position,
    never repeated). A run that fails after it began changing the host undoes what it created and
    says what it undid.
options:
  name:
    description: Tenant name; also the container name and the host name inside it.
    type: str
    required: true
  state:
    description: C(present) to create or update the tenant, C(absent) to stop and remove its container.
    type: str
    choices: [present, absent]
    default: present
  image:
    description: Image to run (already on the host; it is never pulled). Required when O(state=present).
    type: str
  gpus:
    description: Number of whole GPUs to dedicate.
    type: int
    default: 0
  mig:
    description:
      - "MIG instances instead of whole GPUs, as C({profile: 1g.10gb, count: 1}) (C(count) defaults to 1)."
      - Placed on free instances of that profile which the host's MIG layout (role C(gpu_partition)) created,
        NUMA-local to the tenant's CPUs, partly used GPUs first (docs/placement.md); the container gets them by
        MIG UUID and the ledger label C(gpulab.gpus) records those UUIDs.
      - Cannot be combined with O(gpus). CUDA shows a process one MIG instance; a tenant given several runs one
        process per instance.
    type: dict
  gpu_share:
    description:
      - "Shared whole GPUs instead of dedicated ones, as C({gpus: 1, mode: time-slice}) (the defaults)."
      - Several tenants that ask to share may hold the same GPU (at most 8); CUDA time-slices it between them, with no
        memory or fault isolation. A GPU a dedicated or MIG tenant holds is never shared, and a shared GPU is never
        given to a dedicated tenant. GPUs already shared are filled first. The container carries the label
        C(gpulab.gpu-share), and the handoff note states the caveats.
      - C(mode=mps) is refused (docs/gpu-sharing.md says why). Cannot be combined with O(gpus) or O(mig).
    type: dict
  cpus:
    description:
      - Number of logical CPUs to dedicate (pinned with C(--cpuset-cpus), capped with a CPU quota of the
        same size, memory pinned to their NUMA nodes with C(--cpuset-mems)). Required when O(state=present).
      - V(0) dedicates no cores. The container is not pinned and has no CPU quota, so it competes for
        every CPU of the host at the default weight. Use it for light tenants only.
    type: int
  memory:
    description:
      - Memory limit, e.g. C(128G), C(512GiB), C(1.5T). Units are binary as Docker reads them
        (G = GiB). Swap is not added. Required when O(state=present).
    type: str
  disk:
    description:
      - Size of the container's root filesystem (C(--storage-opt size)) and an xfs project quota of the
        same size on the data directory. Needs overlay2 on xfs mounted with C(pquota).
    type: str
  disk_enforcement:
    description:
      - When the host cannot enforce O(disk), V(true) fails with the reason and V(false) goes on without
        a disk limit, recording the size in the container's labels and returning a warning.
    type: bool
    default: true
  ssh_public_keys:
    description: OpenSSH public keys allowed to log in (one key per item). Required when O(state=present).
    type: list
    elements: str
  ssh_port:
    description: Host port for the tenant's SSH. Default is a stable port from O(ssh_port_range), kept across re-creation.
    type: int
  ssh_port_range:
    description: Range the SSH port is picked from when O(ssh_port) is not given.
    type: str
    default: 2200-2999
  ssh_bind_address:
    description: Host address the SSH port is published on.
    type: str
    default: 0.0.0.0
  data_base:
    description:
      - Directory under which every tenant's persistent data lives; this tenant's is C(<data_base>/<name>),
        mounted at O(data_mount). Kept on re-creation and on removal unless O(purge=true).
      - Must be an absolute path without symlinks, not a system directory (C(/etc), C(/usr), C(/var/lib/docker),
        C(/run), C(/proc), C(/sys), C(/dev), C(/boot), C(/root), ...) nor a shared one (C(/), C(/home),
        C(/raid), C(/tmp), ...). A tenant directory never overlaps another tenant's or a non-tenant container's
        bind mount. See docs/tenant.md, "What the module refuses, and why".
    type: path
    default: /var/lib/gpulab/tenants
  data_root:
    description:
      - Kept for inventories written before O(data_base). A tenant's directory is always C(<data_base>/<name>);
        a O(data_root) given must be exactly that path, anything else is refused naming it.
    type: path
  data_mount:
    description: Where the data directory appears inside the container.
    type: str
    default: /data
  numa_policy:
    description: C(strict) takes CPUs only from the GPUs' NUMA nodes; C(best-effort) may spill to the nearest node and says so.
    type: str
    choices: [strict, best-effort]
    default: strict
  topology:
    description:
      - Host topology as gpulab.dgx.gpu_info returns it (C(gpus), C(numa_nodes), C(links), C(siblings)).
        Default is to read the host (GPUs through NVML, else nvidia-smi; CPUs and NUMA nodes from sysfs).
        A host with NVIDIA GPUs or a loaded driver that neither can read fails naming both causes.
    type: dict
  env:
    description: Extra environment for the container. C(NVIDIA_VISIBLE_DEVICES) and C(GPULAB_*) are reserved.
    type: dict
  labels:
    description: Extra container labels. The C(gpulab.) prefix is reserved.
    type: dict
  network:
    description: Docker bridge network the container joins (its SSH port is published from it).
    type: str
    default: bridge
  pids_limit:
    description: Most processes the container may run.
    type: int
    default: 16384
  shm_size:
    description:
      - Size of the container's C(/dev/shm) (C(--shm-size)), written like O(memory), e.g. C(1G), C(512M).
      - Default is computed from O(memory) as max(memory / 4, min(1 GiB, memory / 2)), in whole MiB
        (C(32M) for C(64M), C(1G) for C(2G), C(32G) for C(128G)).
      - Files in C(/dev/shm) count against the container's memory limit, so a size above O(memory) is refused.
      - C(/dev/shm) cannot change on a live container; a new size (the default's too, when O(memory) changes)
        recreates the container.
    type: str
  ulimits:
    description:
      - Resource limits of the container's processes (C(--ulimit)), as a mapping of limit name to a whole
        number (soft and hard limit alike) or a C(soft:hard) string; V(-1) is unlimited. C(memlock), C(stack),
        C(rss), C(data), C(fsize) and C(core) are in bytes, C(cpu) and C(rttime) in seconds and microseconds.
      - Names are Docker's C(core), C(cpu), C(data), C(fsize), C(locks), C(memlock), C(msgqueue), C(nice),
        C(nofile), C(nproc), C(rss), C(rtprio), C(rttime), C(sigpending), C(stack).
      - Default is C(memlock) V(-1) (unlimited locked memory, for RDMA and GPUDirect) and C(stack) V(67108864)
        (64 MiB). A given mapping replaces the defaults it names and keeps the others.
      - Raising a hard limit above dockerd's own needs C(CAP_SYS_RESOURCE), which a rootless or unprivileged
        dockerd lacks; there give limits within dockerd's own (often C(memlock) V(8388608)).
      - A change recreates the container.
    type: dict
  purge:
    description:
      - With O(state=absent), also delete the data directory recorded in the tenant's own container label
        (or C(<data_base>/<name>) when it has no container), only inside O(data_base), without following
        symlinks, and never when another tenant's directory overlaps it.
    type: bool
    default: false
  archive_to:
    description:
      - With O(purge=true), first write the data directory to C(<archive_to>/<name>-<UTC time>.tar.gz) (mode 0600),
        fsynced before anything is deleted. Must lie outside O(data_base) and every tenant directory.
    type: path
  lock_path:
    description: Lock file every tenant rollout on the host takes while it reads, places and creates.
    type: path
    default: /run/lock/gpulab-tenant.lock
  lock_timeout:
    description: Seconds to wait for the lock.
    type: int
    default: 300
requirements:
  - On a GPU host when O(topology) is not given, the driver's nvidia-smi or nvidia-ml-py (pynvml)
attributes:
  check_mode:
    support: full
    description: Reports the same C(changed) and actions as a real run and touches nothing.
  diff_mode:
    support: full
    description: Shows the tenant before and after (image, GPUs, cpuset, memory, disk, port, data directory, shm size, ulimits).
  idempotent:
    support: full
    description: The same spec again gives C(changed=false) and leaves the container untouched.
notes:
  - Run it on the GPU host itself (it test-binds the SSH port and reads sysfs).
seealso:
  - module: community.docker.docker_container
extends_documentation_fragment:
  - gpulab.dgx.docker
  - gpulab.dgx.tenant_verify
"""

EXAMPLES = r"""
- name: Give alice two NVLinked GPUs, 32 CPUs on their NUMA node, 128 GiB and 512 GiB of disk
  gpulab.dgx.tenant:
    name: alice
    image: gpulab/cuda12.4-cudnn9-ubuntu22.04:latest
    gpus: 2
    cpus: 32
    memory: 128G
    disk: 512G
    ssh_public_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGcd1Z3D0a5o1vJ8xj6mWm4S7GkQn0XoYb2s7HqkQp2K alice@laptop
    data_base: /raid/gpulab/tenants

- name: Carol with a fixed 16 GiB /dev/shm (memory changes stay in place), more open files, 8 MiB locked memory
  gpulab.dgx.tenant:
    name: carol
    image: gpulab/cuda12.4-cudnn9-ubuntu22.04:latest
    gpus: 1
    cpus: 16
    memory: 64G
    shm_size: 16G
    ulimits:
      nofile: "65536:1048576"
      memlock: 8388608      # replaces the default -1; stack keeps its default
    ssh_public_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7Wc3oE8l9ZPq7r0qYj3m2Kx1p8Vb6sD4fT5gH2jK9L carol@workstation
    data_base: /raid/gpulab/tenants

- name: Take bob's container away, archiving then deleting his data
  gpulab.dgx.tenant:
    name: bob
    state: absent
    purge: true
    data_base: /raid/gpulab/tenants
    archive_to: /raid/gpulab/archive
"""

RETURN = r"""
tenant:
  description:
    - The tenant as it is now (in check mode, as it would be).
    - C(shm_size) is the size of C(/dev/shm) (C(shm_size_bytes) in bytes); C(ulimits) maps each limit name to
      its C(soft) and C(hard) value (V(-1) is unlimited).
  returned: always
  type: dict
  sample:
    name: alice
    container_id: 4f1c2d...
    image: gpulab/cuda12.4-cudnn9-ubuntu22.04:latest
    gpus: [GPU-4b5c..., GPU-9d2e...]
    gpu_indices: [2, 3]
    cpuset: 16-31,144-159
    cpuset_mems: "1"
    cpus: 32
    memory: 128G
    disk: 512G
    disk_enforced: true
    ssh_port: 2417
    ssh_bind_address: 0.0.0.0
    data_dir: /raid/gpulab/tenants/alice
    data_mount: /data
    login_user: root
    ssh_key_fingerprints: ["SHA256:..."]
    shm_size: 32G
    shm_size_bytes: 34359738368
    ulimits:
      memlock: {soft: -1, hard: -1}
      stack: {soft: 67108864, hard: 67108864}
    spec_hash: 0f3a9c1b2d4e5f60
actions:
  description: What was done (or would be in check mode) in order, e.g. C(create), C(update), C(recreate), C(start), C(remove), C(archive), C(purge).
  returned: always
  type: list
  elements: str
  sample: [update]
verified:
  description: What O(verify) read inside the container (the probe's readings, as strings); a tenant whose
    container differs from its placement fails with what differs.
  returned: when O(verify) read the container
  type: dict
  sample: {"cpuset": "0-3", "memory_limit": "137438953472", "nvidia_visible_devices": "GPU-5d1c...", "sshd_listening": "yes"}
verified_summary:
  description: One line of what O(verify) found in a container that holds its placement.
  returned: when O(verify) read the container and it holds its placement
  type: str
  sample: "GPUs GPU-5d1c..., cpuset 0-3, quota 400000/100000, memory 137438953472, / 100G, /dev/shm 64G, ulimit -l unlimited, ulimit -s 65536, sshd listening"
"""

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module
from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia.smi import nvidia_smi_runner
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.argspec import (
    HOST_OPTIONS, TENANT_ARGUMENT_SPEC, TENANT_REQUIRED_IF, run_option_problem)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, validate_spec
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.host import read_host_topology

try:
    from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.run import run_tenants, verify_settled
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()


def main():
    module = new_module(argument_spec=TENANT_ARGUMENT_SPEC, required_if=TENANT_REQUIRED_IF, supports_check_mode=True)
    problem = run_option_problem(module.params)
    if problem:
        module.fail_json(msg="%s: %r %s" % problem, field=problem[0], value=problem[1])
    try:
        spec = validate_spec(module.params)
    except SpecError as exc:
        module.fail_json(msg=str(exc), field=exc.field, value=exc.value)
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    host = dict((key, module.params[key]) for key in HOST_OPTIONS)
    try:
        (settled,) = run_tenants([spec], host, lambda argv: module.run_command(argv, check_rc=True),
                                 lambda: read_host_topology(require_gpus=False, run=nvidia_smi_runner(module)),
                                 module.check_mode)
        if not module.check_mode:
            verify_settled([settled], host["docker_host"], host["verify"], host["verify_parallel"], host["verify_timeout"])
    except SpecError as exc:
        module.fail_json(msg=str(exc), field=exc.field, value=exc.value, undone=[], not_undone=[])
    result = settled.result()
    if result.pop("failed"):
        if not settled.problems:  # undone; a container that failed verification stays, changed
            result.pop("changed")
        module.fail_json(**result)
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
