"""Tenant rollout on the freshly brought-up VM: three tenants, two of them with GPUs placed on a
real DGX-A100 topology mapped onto the guest's NUMA nodes (scripts/vm/topology.sh).

The guest has no GPU. GPU requests go to the guest's real dockerd, which hands them to the
TEST-DOUBLE nvidia-container-runtime-hook (tests/doubles/nvidia_packages): it records the
request and mounts nothing. What the tests check is that each container was given the GPUs,
CPUs, memory and disk the placement chose, as the container itself sees them.
"""
import json
import re
import shlex
import subprocess
import time
import xml.etree.ElementTree as ET

import yaml

from testbed import BASE_IMAGE, HOST, REPO, TENANT_IMAGE as IMAGE
HOOK_DOUBLE_LOG = "/run/gpulab-test-double/nvidia-container-runtime-hook/calls.log"
MIB = 1024 * 1024


def inspect(bed, name):
    return bed.docker_json("inspect", name)[0]


def cpulist(text):
    cpus = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        cpus.update(range(int(first), int(last if dash else first) + 1))
    return cpus


def test_load_base_image_into_guest(bed, steps, needs):
    needs("site")
    # No registry: the locally built base image goes from the host's dockerd to the guest's.
    start = time.monotonic()
    save = subprocess.Popen(["docker", "save", BASE_IMAGE], stdout=subprocess.PIPE)
    load = subprocess.run(["ssh", "-F", str(bed.ssh_config), HOST, "sudo docker load"],
                          stdin=save.stdout, capture_output=True, text=True, check=False)
    save.stdout.close()
    assert save.wait() == 0, "docker save %s failed on the host (run `make images`)" % BASE_IMAGE
    assert load.returncode == 0, load.stderr
    bed.timings["base image load into guest"] = time.monotonic() - start
    steps.add("base-image")


def test_build_tenant_image_with_images_yml(bed, steps, needs):
    needs("base-image")
    result = bed.playbook("images.yml", "-e", "@%s" % (REPO / "inventories" / "vm" / "tenant-images.yml"),
                          name="images")
    assert result.rc == 0, "images.yml failed (log %s):\n%s" % (result.log, result.tail())
    labels = bed.docker_json("image", "inspect", IMAGE)[0]["Config"]["Labels"]
    assert labels["gpulab.os"] == "debian12", labels
    steps.add("image")


def test_tenant_rollout(bed, steps, needs, tenant_vars):
    needs("site", "image", "topology")
    result = bed.playbook("tenant.yml", extra_vars=tenant_vars, name="tenant-1")
    assert result.rc == 0, "tenant.yml failed (log %s):\n%s" % (result.log, result.tail())
    steps.add("tenants")


def test_ledger_and_numa_placement(bed, needs):
    needs("tenants")
    topology = yaml.safe_load((bed.inventory / "host_vars" / HOST / "tenant_topology.yml").read_text())[
        "tenant_topology"]
    gpu_node = {g["index"]: g["numa_node"] for g in topology["gpus"]}
    node_cpus = {int(n): set(v["cpus"]) for n, v in topology["numa_nodes"].items()}
    used_gpus, used_cpus = set(), set()
    for name, ngpus, ncpus in (("alice", 2, 1), ("bob", 4, 2), ("carol", 0, 1)):
        c = inspect(bed, name)
        labels = c["Config"]["Labels"]
        assert labels["gpulab.tenant"] == name
        assert c["State"]["Running"], c["State"]
        cpuset = cpulist(c["HostConfig"]["CpusetCpus"])
        assert labels["gpulab.cpuset"] == c["HostConfig"]["CpusetCpus"]
        assert len(cpuset) == ncpus and not cpuset & used_cpus, (name, cpuset, used_cpus)
        used_cpus |= cpuset
        requests = c["HostConfig"].get("DeviceRequests") or []
        if ngpus == 0:
            assert not requests, requests
            assert "NVIDIA_VISIBLE_DEVICES=void" in c["Config"]["Env"]
            continue
        assert len(requests) == 1 and requests[0]["Driver"] == "nvidia", requests
        gpus = {int(i) for i in requests[0]["DeviceIDs"]}
        assert len(gpus) == ngpus and not gpus & used_gpus, (name, gpus, used_gpus)
        used_gpus |= gpus
        assert labels["gpulab.gpus"].replace(" ", "") == ",".join(str(i) for i in sorted(gpus))
        # GPUs on one NUMA node, CPUs from that same node.
        nodes = {gpu_node[i] for i in gpus}
        assert len(nodes) == 1, (name, gpus, nodes)
        assert cpuset <= node_cpus[nodes.pop()], (name, cpuset)


def run_inside(bed, name, cmd):
    return bed.out("docker exec %s sh -c %s" % (name, shlex.quote(cmd)))


# What each tenant sees from inside, read with one `docker exec` per tenant (every exec costs
# seconds under TCG). What a login shell sees of NVIDIA_VISIBLE_DEVICES: the runtime puts it into
# PID 1's environment (not into `docker exec`'s), and the image's entrypoint writes it to
# /etc/profile.d.
INSIDE = {
    "cpuset": "cat /sys/fs/cgroup/cpuset.cpus.effective",
    "nproc": "nproc",
    "cpu.max": "cat /sys/fs/cgroup/cpu.max",
    "memory.max": "cat /sys/fs/cgroup/memory.max",
    "root size": "df -B1 --output=size / | tail -1",
    "data size": "df -B1 --output=size /data | tail -1",
    "visible": 'bash -lc \'echo "$NVIDIA_VISIBLE_DEVICES"\'',
}


def read_inside(bed, name):
    """{key of INSIDE: the output of its command in the container}; fails naming a missing key."""
    out = run_inside(bed, name, "; ".join("echo '::%s'; %s" % (key, cmd) for key, cmd in INSIDE.items()))
    seen, key = {}, None
    for line in out.splitlines():
        if line.startswith("::"):
            key = line[2:]
            seen[key] = ""
        elif key is not None:
            seen[key] = (seen[key] + "\n" + line).strip()
    assert sorted(seen) == sorted(INSIDE), (name, out)
    return seen


def test_limits_seen_inside_each_container(bed, needs, tenant_vars):
    needs("tenants")
    for spec in tenant_vars["gpulab_tenants"]:
        name = spec["name"]
        c = inspect(bed, name)
        got = read_inside(bed, name)
        assert cpulist(got["cpuset"]) == cpulist(c["HostConfig"]["CpusetCpus"])
        assert got["nproc"] == str(spec["cpus"])
        quota, period = got["cpu.max"].split()
        assert int(quota) == spec["cpus"] * int(period)
        assert int(got["memory.max"]) == int(spec["memory"][:-1]) * MIB
        want = int(spec["disk"][:-1]) * MIB
        for key in ("root size", "data size"):
            assert abs(int(got[key]) - want) <= want * 0.05, (name, key, got[key], want)
        if spec["gpus"] == 0:
            assert got["visible"] == "void"
        else:
            ids = list(c["HostConfig"]["DeviceRequests"][0]["DeviceIDs"])
            assert sorted(got["visible"].split(",")) == sorted(ids), (name, got["visible"], ids)


def test_gpu_requests_reached_the_hook_double(bed, needs):
    needs("tenants")
    # The TEST-DOUBLE hook logs one `prestart` per container start with GPUs: alice and bob.
    calls = bed.out("cat %s" % HOOK_DOUBLE_LOG).splitlines()
    assert sum(1 for c in calls if "prestart" in c) >= 2, calls


def test_ssh_into_tenants_through_the_host(bed, needs, tenant_key):
    needs("tenants")
    for name in ("alice", "bob", "carol"):
        port = inspect(bed, name)["Config"]["Labels"].get("gpulab.ssh-port") or \
            inspect(bed, name)["HostConfig"]["PortBindings"]["22/tcp"][0]["HostPort"]
        proc = subprocess.run(
            ["ssh", "-F", str(bed.ssh_config), "-J", HOST, "-i", str(tenant_key), "-p", str(port),
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
             "-tt", "root@127.0.0.1", 'bash -lc \'hostname; nproc; echo "gpus=$NVIDIA_VISIBLE_DEVICES"\''],
            capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, (name, proc.stderr)
        host, nproc, gpus = proc.stdout.split()
        c = inspect(bed, name)
        want = ",".join((c["HostConfig"].get("DeviceRequests") or [{"DeviceIDs": ["void"]}])[0]["DeviceIDs"])
        assert (host, gpus) == (name, "gpus=" + want)
        assert int(nproc) == len(cpulist(c["HostConfig"]["CpusetCpus"]))


def test_handoff_notes_written(bed, needs):
    needs("tenants")
    for name in ("alice", "bob", "carol"):
        notes = list((bed.run / "handoff").glob("%s@*.md" % name))
        assert len(notes) == 1, list((bed.run / "handoff").iterdir())
        port = inspect(bed, name)["HostConfig"]["PortBindings"]["22/tcp"][0]["HostPort"]
        assert "ssh -p %s" % port in notes[0].read_text()


SCRAPE = ("python3 -c 'import urllib.request as u; "
          "print(u.urlopen(\"http://127.0.0.1:9100/metrics\", timeout=30).read().decode())'")


def series(text, family):
    """{frozenset(label pairs): value} of one metric family in a scrape."""
    found = {}
    for line in text.splitlines():
        if line.startswith(family + "{"):
            labels, _brace, value = line[len(family) + 1:].rpartition("} ")
            pairs = re.findall(r'(\w+)="([^"]*)"', labels)
            found[frozenset(pairs)] = float(value)
    return found


def test_metrics_job_mapping_and_allocation_map(bed, needs, tenant_vars):
    needs("tenants")
    specs = {t["name"]: t for t in tenant_vars["gpulab_tenants"]}
    # tenant.yml refreshes the metrics when it changes tenants (and the timer every 30 s): node_exporter,
    # installed by site.yml, serves each tenant's series, with as many GPUs as it asked for. After 3 MiB
    # written to alice's /data and the logins of the SSH test, one refresh as the timer runs it.
    bed.out("docker exec alice dd if=/dev/urandom of=/data/metrics-probe bs=1M count=3 conv=fsync status=none")
    bed.out("systemctl start gpulab-tenant-metrics.service")
    now = int(bed.out("date +%s"))
    text = bed.out(SCRAPE, sudo=False)
    data = {dict(k)["tenant"]: v for k, v in series(text, "gpulab_tenant_disk_used_bytes").items() if dict(k)["mount"] == "/data"}
    assert sorted(data) == sorted(specs), text[-2000:]  # every tenant has a disk limit on xfs with pquota
    assert 3 * MIB <= data["alice"] <= int(specs["alice"]["disk"][:-1]) * MIB
    logins = {dict(k)["tenant"]: v for k, v in series(text, "gpulab_tenant_last_login_timestamp_seconds").items()}
    assert sorted(logins) == sorted(specs) and all(now - 3600 < t <= now for t in logins.values()), (logins, now)
    bed.out("docker exec alice rm /data/metrics-probe")
    infos = {dict(k)["tenant"] for k in series(text, "gpulab_tenant_info")}
    assert infos == set(specs), text[-2000:]
    held = {}
    for labels in series(text, "gpulab_tenant_gpu_info"):
        labels = dict(labels)
        held.setdefault(labels["tenant"], set()).add(labels["gpu"])
    assert {n: len(held.get(n, ())) for n in specs} == {n: t["gpus"] for n, t in specs.items()}
    # dcgm-exporter's job mapping: one file per held GPU index, naming its tenant.
    files = json.loads(bed.out("cd /var/lib/gpulab/job-mapping && python3 -c 'import json,os; "
                               "print(json.dumps({f: open(f).read() for f in os.listdir(\".\")}))'"))
    want = {gpu: name + "\n" for name, gpus in held.items() for gpu in gpus}
    assert files == want
    # The allocation map, written on the controller.
    out = bed.run / "report"
    result = bed.playbook("report.yml", extra_vars={"gpulab_report_dir": str(out)}, name="report")
    assert result.rc == 0, "report.yml failed (log %s):\n%s" % (result.log, result.tail())
    data = json.loads((out / (HOST + ".json")).read_text())
    assert sorted(t["name"] for t in data["tenants"]) == sorted(specs), data["tenants"]
    svg = ET.parse(str(out / (HOST + ".svg"))).getroot()
    assert svg.tag.endswith("svg")
    table = (out / (HOST + ".txt")).read_text()
    assert all(name in table for name in specs), table
    assert (HOST + ".svg") in (out / "index.html").read_text()


def test_tenant_rollout_again_changes_nothing(bed, steps, needs, tenant_vars):
    needs("tenants")
    before = {n: inspect(bed, n)["Id"] for n in ("alice", "bob", "carol")}
    result = bed.playbook("tenant.yml", extra_vars=tenant_vars, name="tenant-2")
    assert result.rc == 0, "second tenant.yml failed (log %s):\n%s" % (result.log, result.tail())
    assert result.changed == 0, "second tenant.yml changed %s task(s) (log %s)" % (result.changed, result.log)
    assert {n: inspect(bed, n)["Id"] for n in before} == before
