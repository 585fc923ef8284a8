"""Wall time of playbooks/tenant.yml against the tools an admin would pick instead, creating the same
tenant containers: a minimal community.docker.docker_container playbook, and a shell loop of raw
`docker run` (the floor: no Ansible, no checks). For each size (default 1, 16 and 32 tenants):
create them, a no-op re-run, and removing them all in one run (tenant_remove.yml with every name;
docker_container state=absent; a loop of `docker rm -f`). The raw no-op is a loop of `docker inspect`
(what it costs merely to look at each container).

    python benchmarks/tenant_bench.py [--sizes 1,16,32] [--rounds 3]      # with .venv/bin first on PATH

Each round runs every tool on every case, the tool order rotating from round to round (paired,
interleaved: load on the machine hits all alike); the table gives the median of the rounds with
min-max, and the median of the per-round ratios. The RSS rows are the peak resident memory of the
whole process tree (ansible-playbook, its workers, modules, docker clients) while creating, sampled
from /proc every 20 ms. Before timing, the containers each tool makes are compared field by field
(image, hostname, network, memory and swap, pids, /dev/shm, ulimits, restart policy, CPU pinning,
published SSH port address, the data bind mount, NVIDIA_VISIBLE_DEVICES, the tenant label): the
tools must do the same work.

Runs on the host's dockerd; everything it makes is named gpulab-bench-tenant-* and removed at the
end. Tenants are CPU-less and GPU-less (cpus 0), so 32 fit on any machine; tenant.yml includes its
verification inside each container (until sshd listens) and the handoff notes, the others do neither.
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
        hostname: "{{ item.0.name }}"
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


PEAK_RSS = {}  # (tool, size) -> [peak process-tree RSS in MiB, per round]
TOOLS = ("tenant.yml", "docker_container", "docker run")
CASES = ("create", "no-op", "remove")


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


RAW_CREATE = r"""
i=0
for name do
  docker run -d -q --name "$name" --hostname "$name" --network "$NET" --label "gpulab.tenant=$name" \
    -e NVIDIA_VISIBLE_DEVICES=void -e "GPULAB_SSH_AUTHORIZED_KEYS=$KEY" -p "127.0.0.1:$((2400 + i)):22" \
    -v "$DATA/$name:/data" --restart unless-stopped --memory 32m --memory-swap 32m --pids-limit 16384 \
    --shm-size 16m --ulimit "memlock=$MEMLOCK:$MEMLOCK" --ulimit stack=67108864:67108864 "$IMAGE" >/dev/null || exit 1
  i=$((i + 1))
done
"""
RAW_NOOP = r"""for name do docker inspect -f '{{.State.Running}}' "$name" | grep -qx true || exit 1; done"""
RAW_REMOVE = r"""for name do docker rm -f "$name" >/dev/null || exit 1; done"""


def fingerprint(attrs):
    """What must be equal between the tools' containers (ports and data paths differ by design)."""
    host, config = attrs["HostConfig"], attrs["Config"]
    env = dict(e.split("=", 1) for e in config.get("Env") or [])
    binding = (host.get("PortBindings") or {}).get("22/tcp") or [{}]
    return {
        "image": config["Image"], "hostname": config["Hostname"], "network": host["NetworkMode"],
        "memory": host["Memory"], "swap": host["MemorySwap"], "pids": host["PidsLimit"], "shm": host["ShmSize"],
        "ulimits": sorted((u["Name"], u["Soft"], u["Hard"]) for u in host.get("Ulimits") or []),
        "restart": host["RestartPolicy"]["Name"], "cpuset": host.get("CpusetCpus") or "",
        "quota": host.get("CpuQuota") or 0, "ssh_address": binding[0].get("HostIp"),
        "data": sorted(m["Destination"] for m in attrs.get("Mounts") or [] if m["Type"] == "bind"),
        "gpus": env.get("NVIDIA_VISIBLE_DEVICES"), "keys": env.get("GPULAB_SSH_AUTHORIZED_KEYS"),
        "label": config["Labels"].get("gpulab.tenant") == attrs["Name"].lstrip("/"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="1,16,32", help="tenant counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    sizes = [int(n) for n in opts.sizes.split(",")]
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
    raw_env = dict(env, NET=NETWORK, KEY=pub, DATA=os.path.join(work, "raw"), MEMLOCK=str(MEMLOCK), IMAGE=IMAGE)
    minimal = os.path.join(work, "minimal.yml")
    with open(minimal, "w") as handle:
        handle.write(MINIMAL % {"network": NETWORK, "data": os.path.join(work, "plain"), "memlock": MEMLOCK})

    def names(count):
        return ["%s%02d" % (PREFIX, i) for i in range(count)]

    def inventory(count):
        tenants = [{"name": name, "image": IMAGE, "cpus": 0, "memory": "32M", "ssh_public_keys": [pub]}
                   for name in names(count)]
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

    inventories = dict((count, inventory(count)) for count in sizes)

    def command(tool, case, count):
        inv = inventories[count]
        if tool == "tenant.yml":
            if case == "remove":
                return [os.path.join(bin_dir, "ansible-playbook"), os.path.join(ROOT, "playbooks", "tenant_remove.yml"),
                        "-i", inv, "-e", "gpulab_hosts=gpuhost", "-e", "tenant=" + ",".join(names(count))]
            return [os.path.join(bin_dir, "ansible-playbook"), os.path.join(ROOT, "playbooks", "tenant.yml"),
                    "-i", inv, "-e", "gpulab_hosts=gpuhost"]
        if tool == "docker_container":
            return [os.path.join(bin_dir, "ansible-playbook"), minimal, "-i", inv] + (
                ["-e", "remove=true"] if case == "remove" else [])
        script = {"create": RAW_CREATE, "no-op": RAW_NOOP, "remove": RAW_REMOVE}[case]
        return ["sh", "-c", script, "raw"] + names(count)

    def ours():
        return [c for c in client.containers.list(all=True) if c.name.startswith(PREFIX)]

    # Equal work: every tool's containers, field by field, against tenant.yml's.
    count = max(sizes)
    prints = {}
    for tool in TOOLS:
        clean(client)
        run(command(tool, "create", count), tool == "docker run" and raw_env or env)
        prints[tool] = sorted((c.name, fingerprint(c.attrs)) for c in ours())
    clean(client)
    for tool in TOOLS[1:]:
        for (name, mine), (other_name, theirs) in zip(prints["tenant.yml"], prints[tool]):
            differ = dict((k, (mine[k], theirs[k])) for k in mine if mine[k] != theirs[k])
            if name != other_name or differ:
                sys.exit("%s does not make the same container as tenant.yml for %s: %s" % (tool, name, differ))

    results = dict(((tool, case, n), []) for tool in TOOLS for case in CASES for n in sizes)
    try:
        for round_no in range(opts.rounds):
            order = TOOLS[round_no % 3:] + TOOLS[:round_no % 3]
            for count in sizes:
                for tool in order:
                    tool_env = raw_env if tool == "docker run" else env
                    clean(client)
                    results[(tool, "create", count)].append(
                        run(command(tool, "create", count), tool_env, key=(tool, count)))
                    results[(tool, "no-op", count)].append(run(command(tool, "no-op", count), tool_env))
                    results[(tool, "remove", count)].append(run(command(tool, "remove", count), tool_env))
                    assert not ours(), tool
    finally:
        clean(client)
        for net in client.networks.list(names=[NETWORK]):
            net.remove()
        subprocess.run(["rm", "-rf", work], check=False)
    print("%d round(s), tool order rotating; median (min-max) seconds; ratios are medians of the per-round "
          "ratios (min-max)" % opts.rounds)
    header = ("case", "tenant.yml", "docker_container", "docker run", "tenant.yml/container", "container/docker run")
    print("%-16s %-18s %-18s %-18s %-22s %s" % header)
    for count in sizes:
        for case in CASES:
            mine, plain, raw = (results[(tool, case, count)] for tool in TOOLS)
            print("%-16s %-18s %-18s %-18s %-22s %s" % ("%s %d" % (case, count), span(mine), span(plain), span(raw),
                                                        ratio(mine, plain), ratio(plain, raw)))
    for count in sizes:
        mine, plain, raw = (PEAK_RSS[(tool, count)] for tool in TOOLS)
        print("%-16s %-18s %-18s %-18s %-22s %s" % ("RSS MiB, create %d" % count, span(mine), span(plain), span(raw),
                                                    ratio(mine, plain), ratio(plain, raw)))


def ratio(mine, theirs):
    ratios = [m / t for m, t in zip(mine, theirs)]
    return "%.2fx (%.2f-%.2f)" % (statistics.median(ratios), min(ratios), max(ratios))


def span(values):
    return "%.1f (%.1f-%.1f)" % (statistics.median(values), min(values), max(values))


if __name__ == "__main__":
    main()
