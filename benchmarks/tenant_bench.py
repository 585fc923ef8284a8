"""Wall time of playbooks/tenant.yml against a minimal community.docker.docker_container playbook
that creates the same containers: create 1 tenant, create N, a no-op re-run of the N, and removing
the N (tenant_remove.yml with every name in one run, against docker_container state=absent).

    python benchmarks/tenant_bench.py [--tenants 16] [--rounds 3]      # with .venv/bin first on PATH

Each round runs both tools on every case, the tool that goes first alternating from round to round
(paired, interleaved: load on the machine hits both alike); the table gives the median of the
rounds with min-max, and the median of the per-round ratios. The last row is the peak resident memory
of the whole process tree (ansible-playbook, its workers, modules, docker clients) while creating
the N, sampled from /proc every 20 ms.

Runs on the host's dockerd; everything it makes is named gpulab-bench-tenant-* and removed at the
end. Tenants are CPU-less and GPU-less (cpus 0), so 16 fit on any machine; tenant.yml includes its
verification inside each container and the handoff notes, the docker_container playbook does
neither (it is the floor: what creating the containers alone costs).
"""

from __future__ import print_function

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import docker
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "tenant"))
import tenant_images  # noqa: E402  (builds the test image: debian12 + the tenant entrypoint)

PREFIX = "gpulab-bench-tenant-"
# tenant.yml's default memlock is -1 (unlimited); this CI host's dockerd lacks CAP_SYS_RESOURCE and
# cannot raise it above its own 8 MiB ("error setting rlimit type 8: operation not permitted"), so
# both sides set 8 MiB. The 32M tenants get the default /dev/shm of 16M on both sides too.
MEMLOCK = 8388608
NETWORK = "gpulab-bench-tenant-net"
IMAGE = tenant_images.IMAGE + ":v1"

MINIMAL = """---
- name: Create (or remove) the same tenant containers with community.docker.docker_container
  hosts: gpuhost
  gather_facts: false
  tasks:
    - name: Create each container
      community.docker.docker_container:
        name: "{{ item.0.name }}"
        image: "{{ item.0.image }}"
        state: "{{ 'absent' if remove | default(false) | bool else 'started' }}"
        memory: "{{ item.0.memory }}"
        memory_swap: "{{ item.0.memory }}"
        pids_limit: 16384
        shm_size: 16M
        ulimits: ["memlock:%(memlock)d:%(memlock)d", "stack:67108864:67108864"]
        restart_policy: unless-stopped
        networks: [{name: "%(network)s"}]
        networks_cli_compatible: true
        published_ports: ["127.0.0.1:{{ 2600 + item.1 }}:22"]
        env:
          NVIDIA_VISIBLE_DEVICES: void
          GPULAB_SSH_AUTHORIZED_KEYS: "{{ item.0.ssh_public_keys | join('\\n') }}"
        labels:
          gpulab.tenant: "{{ item.0.name }}"
        volumes: ["%(data)s/{{ item.0.name }}:/data"]
      loop: "{{ gpulab_tenants | zip(range(gpulab_tenants | length)) | list }}"
      loop_control:
        label: "{{ item.0.name }}"
"""


PEAK_RSS = {}  # (tool, case) -> [peak process-tree RSS in MiB, per round]


def tree_rss_kib(root_pid):
    """Resident memory of `root_pid` and every process below it, from /proc (KiB)."""
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/status" % entry) as handle:
                kib = [int(line.split()[1]) for line in handle if line.startswith("VmRSS:")]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or a kernel thread
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = kib[0] if kib else 0
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


def run(cmd, env, key=None):
    """Seconds `cmd` took; with `key`, its peak process-tree RSS goes to PEAK_RSS[key] (sampled every 20 ms)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env)
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_kib(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output = proc.communicate()[0]
    took = time.monotonic() - start
    sampler.join()
    if proc.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), output[-3000:]))
    if key is not None:
        PEAK_RSS.setdefault(key, []).append(peak[0] / 1024.0)
    return took


def clean(client):
    for container in client.containers.list(all=True):
        if container.name.startswith(PREFIX):
            container.remove(force=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--tenants", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    client = docker.from_env(version="auto")
    tenant_images.build("v1")
    if not client.networks.list(names=[NETWORK]):
        client.networks.create(NETWORK, driver="bridge")
    work = tempfile.mkdtemp(prefix="gpulab-bench-tenant.")
    key_path = os.path.join(work, "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key_path], check=True)
    with open(key_path + ".pub") as handle:
        pub = handle.read().strip()
    cpus = sorted(os.sched_getaffinity(0))
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               ANSIBLE_ROLES_PATH=os.path.join(ROOT, "roles"), ANSIBLE_NOCOLOR="1",
               PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    minimal = os.path.join(work, "minimal.yml")
    with open(minimal, "w") as handle:
        handle.write(MINIMAL % {"network": NETWORK, "data": os.path.join(work, "plain"), "memlock": MEMLOCK})

    def inventory(count):
        tenants = [{"name": "%s%02d" % (PREFIX, i), "image": IMAGE, "cpus": 0, "memory": "32M",
                    "ssh_public_keys": [pub]} for i in range(count)]
        data = {"all": {"hosts": {"gpuhost": {"ansible_connection": "local", "ansible_become": False,
                                              "ansible_python_interpreter": sys.executable}},
                        "vars": {"gpulab_tenants": tenants, "tenant_network": NETWORK,
                                 "tenant_topology": {"gpus": [], "links": {}, "siblings": [],
                                                     "numa_nodes": {"0": {"cpus": cpus, "distance": {"0": 10}}}},
                                 "tenant_ssh_bind_address": "127.0.0.1",
                                 "tenant_ulimits": {"memlock": MEMLOCK},
                                 "tenant_ssh_port_range": "2700-2999",
                                 "tenant_data_base": os.path.join(work, "tenants"),
                                 "tenant_lock_path": os.path.join(work, "lock"),
                                 "tenant_handoff_dir": os.path.join(work, "handoff")}}}
        path = os.path.join(work, "inventory-%d.yml" % count)
        with open(path, "w") as handle:
            yaml.safe_dump(data, handle)
        return path

    def tenant_cmd(inv, count, remove=False):
        if remove:
            names = ",".join("%s%02d" % (PREFIX, i) for i in range(count))
            return [os.path.join(bin_dir, "ansible-playbook"), os.path.join(ROOT, "playbooks", "tenant_remove.yml"),
                    "-i", inv, "-e", "gpulab_hosts=gpuhost", "-e", "tenant=" + names]
        return [os.path.join(bin_dir, "ansible-playbook"), os.path.join(ROOT, "playbooks", "tenant.yml"),
                "-i", inv, "-e", "gpulab_hosts=gpuhost"]

    def plain_cmd(inv, count, remove=False):
        return [os.path.join(bin_dir, "ansible-playbook"), minimal, "-i", inv] + (["-e", "remove=true"] if remove else [])

    tools = (("tenant.yml", tenant_cmd), ("docker_container", plain_cmd))
    results = dict(((tool, case), []) for tool in dict(tools) for case in ("1", "n", "no-op", "remove"))
    one, many = inventory(1), inventory(opts.tenants)
    try:
        for round_no in range(opts.rounds):
            order = tools if round_no % 2 == 0 else tools[::-1]
            for label, cmd in order:
                clean(client)
                results[(label, "1")].append(run(cmd(one, 1), env))
                clean(client)
                results[(label, "n")].append(run(cmd(many, opts.tenants), env, key=(label, "n")))
                results[(label, "no-op")].append(run(cmd(many, opts.tenants), env))
                results[(label, "remove")].append(run(cmd(many, opts.tenants, remove=True), env))
                assert not [c for c in client.containers.list(all=True) if c.name.startswith(PREFIX)], label
    finally:
        clean(client)
        for net in client.networks.list(names=[NETWORK]):
            net.remove()
        subprocess.run(["rm", "-rf", work], check=False)
    names = {"1": "create 1 tenant", "n": "create %d tenants" % opts.tenants,
             "no-op": "no-op re-run (%d)" % opts.tenants, "remove": "remove %d (one run)" % opts.tenants}
    print("%d round(s), tool order alternating; median (min-max) seconds" % opts.rounds)
    print("%-22s %-22s %-22s %s" % ("case", "tenant.yml", "docker_container", "ratio (median of rounds)"))
    for case in ("1", "n", "no-op", "remove"):
        mine, plain = results[("tenant.yml", case)], results[("docker_container", case)]
        ratios = [m / p for m, p in zip(mine, plain)]
        print("%-22s %-22s %-22s %.2fx (%.2f-%.2f)" % (
            names[case], span(mine), span(plain), statistics.median(ratios), min(ratios), max(ratios)))
    mine, plain = PEAK_RSS[("tenant.yml", "n")], PEAK_RSS[("docker_container", "n")]
    ratios = [m / p for m, p in zip(mine, plain)]
    print("%-22s %-22s %-22s %.2fx (%.2f-%.2f)" % (
        "peak RSS MiB, create %d" % opts.tenants, span(mine), span(plain), statistics.median(ratios), min(ratios),
        max(ratios)))


def span(values):
    return "%.1f (%.1f-%.1f)" % (statistics.median(values), min(values), max(values))


if __name__ == "__main__":
    main()
