"""A fleet of three GPU hosts on real parts: three dockerds of their own (tests/integration/gpu_dockerd.py, each with
the nvidia hook TEST DOUBLE, so GPU device requests run), each standing for a host with its own topology (8, 4 and
2 GPUs), in one inventory whose tenants name no host. playbooks/tenant.yml chooses each tenant's host by the rule
(best fit) and applies it there; a second run moves nobody; a full fleet refuses naming the largest free slot per
host and changes nothing; two controllers racing for the last room never double-book."""

import fcntl
import os
import re
import subprocess
import sys

import pytest
import yaml

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset, parse_cpuset
from gpu_dockerd import GpuDockerd
from slurmd_check import make_devices, parse, require_slurmd
from tenant_helpers import HOST_CPUS, HOST_ULIMITS, IMAGE_V1, NETWORK, PREFIX, ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HOSTS = {"a-big": 8, "b-mid": 4, "c-small": 2}  # GPUs per host; first fit (by name) would fill a-big first


def topology(host, count):
    """One NUMA node over this machine's CPUs (Docker refuses cpusets and mems that do not exist here)."""
    gpus = [{"index": i, "uuid": "GPU-%08x-0000-4000-8000-%012d" % (sorted(HOSTS).index(host), i), "numa_node": 0,
             "cpus": list(HOST_CPUS), "name": "test double GPU", "pci_bus_id": "00000000:%02X:00.0" % (i + 1)}
            for i in range(count)]
    links = dict(("%d,%d" % (i, j), "NV12") for i in range(count) for j in range(i + 1, count))
    return {"gpus": gpus, "links": links, "siblings": [],
            "numa_nodes": {"0": {"cpus": list(HOST_CPUS), "distance": {"0": 10}}}}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The fleet's hosts' directories (data, locks) and inventories, shared by this module's tests."""
    return tmp_path_factory.mktemp("fleet")


@pytest.fixture(scope="module")
def fleet(tenant_images_built):
    """Three dockerds of their own, the tenant image and network in each: {host: GpuDockerd}."""
    daemons = {}
    try:
        for host in HOSTS:
            daemon = GpuDockerd()
            daemon.start()
            daemons[host] = daemon
            daemon.load_image(IMAGE_V1)
            subprocess.run(daemon.cli + ["network", "create", NETWORK], check=True, stdout=subprocess.DEVNULL)
        yield daemons
    finally:
        for daemon in daemons.values():
            daemon.stop()


def tenant(name, gpus, ssh_key, cpus=0, **extra):
    entry = {"name": PREFIX + name, "image": IMAGE_V1, "gpus": gpus, "cpus": cpus, "memory": "64M",
             "ssh_public_keys": [ssh_key["public"]]}
    entry.update(extra)
    return entry


def write_inventory(tmp_path, fleet, tenants, name="inventory.yml", **extra):
    hosts = {}
    for host, daemon in fleet.items():
        hosts[host] = {"ansible_connection": "local", "ansible_host": "127.0.0.1", "ansible_python_interpreter": sys.executable,
                       "ansible_become": False,
                       "tenant_docker_host": daemon.host, "tenant_topology": topology(host, HOSTS[host]),
                       "tenant_data_base": str(tmp_path / host / "tenants"), "tenant_lock_path": str(tmp_path / host / "lock"),
                       # Slurm's files (written only where slurm_gres_enabled): this machine's one socket, devices of
                       # the test's own (slurmd_check.make_devices), slurmd's check on (it is installed), no restart.
                       "slurm_gres_conf_dir": str(tmp_path / host / "slurm"), "slurm_gres_node_name": host,
                       "slurm_gres_sockets": 1, "slurm_gres_memory_mb": 65536, "slurm_gres_reserved_memory_mb": 1024,
                       "slurm_gres_dev_dir": str(tmp_path / host / "dev"), "slurm_gres_restart_slurmd": False}
        (tmp_path / host).mkdir(exist_ok=True)
    data = {"all": {"hosts": hosts, "vars": {
        "gpulab_fleet_tenants": tenants, "tenant_network": NETWORK, "tenant_ssh_bind_address": "127.0.0.1",
        "tenant_disk_enforcement": False, "tenant_ulimits": HOST_ULIMITS, "tenant_verify": False,
        "tenant_handoff": False, "tenant_refresh_metrics": False}}}
    data["all"]["vars"].update(extra)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def run_playbook(inventory, name="tenant.yml", *extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               ANSIBLE_ROLES_PATH=os.path.join(ROOT, "roles"), ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), os.path.join(ROOT, "playbooks", name),
           "-i", str(inventory), "-e", "gpulab_hosts=all"] + list(extra)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env)


def finish(process):
    out, _err = process.communicate(timeout=600)
    return process.returncode, out


def where(fleet):
    """{tenant: (host, [GPU IDs])} over every dockerd's tenant containers."""
    out = {}
    for host, daemon in fleet.items():
        names = subprocess.run(daemon.cli + ["ps", "-a", "--filter", "label=gpulab.tenant", "--format", "{{.Names}}"],
                               stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.split()
        for name in names:
            gpus = subprocess.run(daemon.cli + ["inspect", "-f", '{{index .Config.Labels "gpulab.gpus"}}', name],
                                  stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
            assert name not in out, "%s on %s and %s" % (name, out.get(name), host)
            out[name] = (host, [g for g in gpus.split(",") if g])
    return out


def test_a_fleet_rolls_out_by_the_rule_moves_nobody_and_refuses_when_full(fleet, base, ssh_key):
    tmp_path = base
    stream = [tenant("t1", 1, ssh_key), tenant("t2", 4, ssh_key), tenant("t3", 2, ssh_key), tenant("t4", 1, ssh_key),
              tenant("t5", 0, ssh_key, cpus=1)]
    code, out = finish(run_playbook(write_inventory(tmp_path, fleet, stream)))
    assert code == 0, out
    placed = where(fleet)
    # Best fit: t1 to the 2-GPU host, t2 fills the 4-GPU host, t3 cannot fit the 1 GPU left on c-small so
    # takes the 8-GPU host, t4 fills c-small, t5 (no GPU) goes where no GPU is left (b-mid, by name).
    assert dict((n[len(PREFIX):], h) for n, (h, _g) in placed.items()) == \
        {"t1": "c-small", "t2": "b-mid", "t3": "a-big", "t4": "c-small", "t5": "b-mid"}
    assert [len(placed[PREFIX + t][1]) for t in ("t1", "t2", "t3", "t4", "t5")] == [1, 4, 2, 1, 0]

    code, again = finish(run_playbook(write_inventory(tmp_path, fleet, list(reversed(stream)), "again.yml")))
    assert code == 0 and where(fleet) == placed, again  # a second run (another order, too) moves nobody
    assert "changed=0" in again and "changed=1" not in again

    full = stream + [tenant("huge", 8, ssh_key)]
    code, refused = finish(run_playbook(write_inventory(tmp_path, fleet, full, "full.yml")))
    assert code != 0 and "tenant %shuge (8 GPU(s), 0 CPUs, numa_policy strict) fits on no host" % PREFIX in refused, refused
    for words in ("a-big: 6 GPU(s)", "b-mid: 0 GPU(s)", "c-small: 0 GPU(s)"):
        assert words in refused, refused
    assert where(fleet) == placed  # nothing changed anywhere

    # Two controllers at once, each with a tenant for the last 6 GPUs (both choose a-big): one wins, the other
    # fails cleanly under a-big's host lock (no other host has room for it); no GPU is held twice.
    first = run_playbook(write_inventory(tmp_path, fleet, stream + [tenant("r1", 6, ssh_key)], "r1.yml"))
    second = run_playbook(write_inventory(tmp_path, fleet, stream + [tenant("r2", 6, ssh_key)], "r2.yml"))
    (code1, out1), (code2, out2) = finish(first), finish(second)
    after = where(fleet)
    won = [r for r in ("r1", "r2") if PREFIX + r in after]
    assert len(won) == 1 and sorted([code1, code2])[0] == 0 and sorted([code1, code2])[1] != 0, (out1, out2)
    loser_out = out2 if won == ["r1"] else out1
    lost = "r2" if won == ["r1"] else "r1"
    assert "%s%s: gpus: 6 is more than the 0 free of the host's 8 GPUs" % (PREFIX, lost) in loser_out, loser_out
    held = [g for _host, gpus in after.values() for g in gpus if _host == "a-big"]
    assert len(held) == len(set(held)) == 8
    assert "tenant %s%s (6 GPU(s), 0 CPUs, numa_policy strict) fits on no host" % (PREFIX, lost) in loser_out  # retried
    code, dropped = finish(run_playbook(write_inventory(tmp_path, fleet, stream + [tenant(won[0], 6, ssh_key)], "drop.yml"),
                                        "tenant_remove.yml", "-e", "tenant=%s%s" % (PREFIX, won[0])))
    assert code == 0, dropped

    # One tenant by name: only its host acts; then removed from whichever host has it, the others untouched.
    inventory = write_inventory(tmp_path, fleet, stream, "final.yml")
    code, one = finish(run_playbook(inventory, "tenant.yml", "-e", "tenant=%st4" % PREFIX))
    assert code == 0 and "changed=1" not in one, one
    code, removed = finish(run_playbook(inventory, "tenant_remove.yml", "-e", "tenant=%st1" % PREFIX))
    assert code == 0, removed
    left = where(fleet)
    assert PREFIX + "t1" not in left and dict((k, v) for k, v in placed.items() if k != PREFIX + "t1") == left

    # A lost race where another host has room: c-small has 1 GPU free, so two controllers each with a 1-GPU tenant
    # both choose it. Its host lock is held until both have chosen (their output says so), then let go: one gets
    # c-small; the other is refused there and, choosing again without c-small, gets a-big.
    lock = tmp_path / "c-small" / "lock"
    with open(str(lock), "a+") as held_lock:
        fcntl.flock(held_lock.fileno(), fcntl.LOCK_EX)
        racers = [run_playbook(write_inventory(tmp_path, fleet, stream[1:] + [tenant(r, 1, ssh_key)], r + ".yml"))
                  for r in ("s1", "s2")]
        seen = [read_until(p, '"%s%s": "c-small"' % (PREFIX, r)) for p, r in zip(racers, ("s1", "s2"))]
        fcntl.flock(held_lock.fileno(), fcntl.LOCK_UN)
    results = [finish(p) for p in racers]
    outs = [head + rest for head, (_code, rest) in zip(seen, results)]
    assert [code for code, _rest in results] == [0, 0], outs
    final = where(fleet)
    hosts = sorted(final[PREFIX + r][0] for r in ("s1", "s2"))
    assert hosts == ["a-big", "c-small"], final
    retried = [o for o in outs if "lost their room here" in o and '"%ss' % PREFIX in o.split("Show where they go now")[-1]]
    assert len(retried) == 1, outs
    assert all(len(set(g)) == len(g) for g in [[x for h, gs in final.values() if h == host for x in gs] for host in HOSTS])


def read_until(process, marker):
    """The playbook's output up to the line holding `marker` (its choice of hosts), read as it comes."""
    seen = []
    for line in process.stdout:
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError("the playbook ended without printing %s:\n%s" % (marker, "".join(seen)))


def container_of(fleet, host, name):
    return subprocess.run(fleet[host].cli + ["inspect", "-f", "{{.State.Running}} {{.Id}}", name], stdout=subprocess.PIPE,
                          universal_newlines=True, check=False).stdout.split()


def test_a_move_keeps_data_byte_identical_and_leaves_the_source_clean(fleet, base, ssh_key):
    """After the first test: a-big has 5 GPUs free, b-mid and c-small none."""
    tmp_path = base
    mover = tenant("m1", 0, ssh_key)
    inventory = write_inventory(tmp_path, fleet, [mover, tenant("t3", 2, ssh_key)], "move.yml", tenant_handoff=True,
                                tenant_handoff_dir=str(tmp_path / "handoff"))
    code, out = finish(run_playbook(inventory))
    assert code == 0, out
    source, _gpus = where(fleet)[PREFIX + "m1"]
    assert source != "a-big"
    payload = subprocess.run(fleet[source].cli + ["exec", PREFIX + "m1", "sh", "-c",
                                                  "head -c 3000000 /dev/urandom > /data/blob; mkdir -p /data/d; echo x > /data/d/f;"
                                                  " ln /data/blob /data/hard; sha256sum /data/blob"],
                             stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.split()[0]

    # No room on the target: refused before anything changes.
    code, refused = finish(run_playbook(inventory, "tenant_move.yml", "-e", "tenant=%st3" % PREFIX, "-e", "to=c-small"))
    assert code != 0 and "tenant %st3 (2 GPU(s), 0 CPUs, numa_policy strict) fits on no host" % PREFIX in refused, refused
    assert container_of(fleet, "a-big", PREFIX + "t3")[0] == "true"

    code, moved = finish(run_playbook(inventory, "tenant_move.yml", "-e", "tenant=%sm1" % PREFIX, "-e", "to=a-big"))
    assert code == 0, moved
    assert where(fleet)[PREFIX + "m1"][0] == "a-big" and container_of(fleet, "a-big", PREFIX + "m1")[0] == "true"
    assert container_of(fleet, source, PREFIX + "m1") == []  # gone from the source ...
    assert not (tmp_path / source / "tenants" / (PREFIX + "m1")).exists()  # ... with its data
    check = subprocess.run(fleet["a-big"].cli + ["exec", PREFIX + "m1", "sh", "-c",
                                                 "sha256sum /data/blob; cat /data/d/f; stat -c %h /data/blob"],
                           stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.split()
    assert check[0] == payload and check[2:] == ["x", "2"]  # byte-identical, hard link kept
    assert (tmp_path / "handoff" / ("%sm1@a-big.md" % PREFIX)).exists()
    assert not (tmp_path / "handoff" / ("%sm1@%s.md" % (PREFIX, source))).exists()


def slurm_view(tmp_path, host):
    """What slurmd reads from the host's files: ({GPU index: Cores=}, CpuSpecList, error lines), by `slurmd -G`."""
    conf = tmp_path / host / "slurm"
    node_line = (conf / "gpulab-node.conf").read_text().splitlines()[1]
    found, errors, lines = parse((conf / "gres.conf").read_text(), node_line, host, tmp_path / host / "slurm-check")
    fields = dict(part.split("=", 1) for part in node_line.split())
    return dict((int(files[0].rsplit("nvidia", 1)[1]), cores) for _t, files, cores in found), fields.get("CpuSpecList"), errors, lines


def slurm_ids(cpus):
    """Slurm's CPU IDs of `cpus` on this machine's CPUs as the fleet's topology has them (one thread per core), as
    CpuSpecList gives them (None for none)."""
    return format_cpuset(HOST_CPUS.index(c) for c in cpus) or None


def held_here(fleet, host):
    """(GPU indices, CPUs) the tenants on `host` hold, from their containers."""
    gpus, cpus = set(), set()
    for name, (where_host, ids) in where(fleet).items():
        if where_host == host:
            gpus.update(int(i.rsplit("-", 1)[1]) for i in ids)
            cpuset = subprocess.run(fleet[host].cli + ["inspect", "-f", "{{.HostConfig.CpusetCpus}}", name], stdout=subprocess.PIPE,
                                    universal_newlines=True, check=True).stdout.strip()
            cpus.update(parse_cpuset(cpuset))
    return gpus, cpus


def test_slurm_is_given_what_no_tenant_holds_and_follows_the_tenants(fleet, base, ssh_key):
    """After the tests above. Each host's gres.conf, read by the real slurmd, lists exactly its GPUs no tenant holds, on
    cores no tenant holds; the tenants' CPUs are Slurm's CpuSpecList; a check-mode run writes nothing; a run that finds
    the files right changes nothing; a gres.conf the role did not write is refused; removing a tenant gives its GPU and
    CPU back to Slurm."""
    require_slurmd()
    tmp_path = base
    for host, count in HOSTS.items():
        make_devices(tmp_path / host / "dev", [("nvidia%d" % i, i) for i in range(count)])
    tenants = [tenant("g1", 1, ssh_key, cpus=1)]
    controller = tmp_path / "slurmctld"  # a-big stands for the controller too: each node's line lands there
    inventory = write_inventory(tmp_path, fleet, tenants, "slurm.yml", slurm_gres_enabled=True, slurm_gres_controller="a-big",
                                slurm_gres_controller_dir=str(controller), slurm_gres_controller_reconfigure=False)

    code, out = finish(run_playbook(inventory, "slurm.yml", "--check"))
    assert code == 0 and not any((tmp_path / h / "slurm" / "gres.conf").exists() for h in HOSTS), out

    code, out = finish(run_playbook(inventory))  # tenant.yml: g1 placed, then every host's Slurm files written
    assert code == 0, out
    g1_host = where(fleet)[PREFIX + "g1"][0]
    for host, count in HOSTS.items():
        gpus, cpus = held_here(fleet, host)
        offered, spec, errors, lines = slurm_view(tmp_path, host)
        assert errors == [] and sorted(offered) == sorted(set(range(count)) - gpus), (host, lines)
        assert spec == slurm_ids(cpus), host
        free = format_cpuset(c for c in HOST_CPUS if c not in cpus)
        assert all(cores == free for cores in offered.values()), (host, offered)
        assert (controller / (host + ".conf")).read_text().splitlines()[1] == \
            (tmp_path / host / "slurm" / "gpulab-node.conf").read_text().splitlines()[1]
    assert held_here(fleet, g1_host)[1], "g1 holds a CPU"

    foreign = tmp_path / "c-small" / "slurm" / "gres.conf"
    foreign.write_text("Name=gpu File=/dev/nvidia0\n")
    code, again = finish(run_playbook(inventory, "slurm.yml"))
    assert code != 0 and "slurm_gres_take_over=true" in again and foreign.read_text() == "Name=gpu File=/dev/nvidia0\n", again
    for host in ("a-big", "b-mid"):
        assert re.search(r"%s\s+: ok=\d+\s+changed=0 " % host, again), again
    foreign.unlink()

    code, out = finish(run_playbook(inventory, "tenant_remove.yml", "-e", "tenant=%sg1" % PREFIX))
    assert code == 0, out
    offered, spec, errors, lines = slurm_view(tmp_path, g1_host)
    gpus, cpus = held_here(fleet, g1_host)
    assert errors == [] and sorted(offered) == sorted(set(range(HOSTS[g1_host])) - gpus), lines
    assert spec == slurm_ids(cpus)
