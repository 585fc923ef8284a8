"""The test bed itself: a fresh machine standing for a DGX-A100 before bring-up."""
import json

import yaml

from testbed import VM_SCRIPTS, HOST
import subprocess


def test_ansible_reaches_the_vm(bed, steps):
    proc = bed.ansible("ansible.builtin.ping")
    assert proc.returncode == 0 and '"pong"' in proc.stdout, proc.stdout + proc.stderr
    steps.add("reachable")


def test_guest_has_two_numa_nodes_with_two_cpus_each(bed):
    nodes = bed.out("ls -d /sys/devices/system/node/node* | xargs -n1 basename").split()
    assert nodes == ["node0", "node1"]
    assert bed.out("cat /sys/devices/system/node/node0/cpulist") == "0-1"
    assert bed.out("cat /sys/devices/system/node/node1/cpulist") == "2-3"


def test_four_blank_nvme_drives(bed):
    disks = json.loads(bed.out("lsblk -J -b -o NAME,TYPE,SIZE,FSTYPE,MOUNTPOINT /dev/nvme0n1 "
                               "/dev/nvme1n1 /dev/nvme2n1 /dev/nvme3n1"))["blockdevices"]
    assert sorted(d["name"] for d in disks) == ["nvme0n1", "nvme1n1", "nvme2n1", "nvme3n1"]
    for d in disks:
        assert d["type"] == "disk" and d["fstype"] is None and d["mountpoint"] is None, d
        assert not d.get("children"), d
        # blkid -p exits 2 when it finds no signature at all on the device.
        assert bed.ssh("blkid -p /dev/%s" % d["name"], check=False).returncode == 2, d["name"]


def test_fresh_overlay_is_a_fresh_dgx_os(bed):
    # Each run boots a clean copy-on-write overlay of the cached image. Like DGX OS it ships
    # Docker Engine (Debian's docker.io here), with its data on the root disk and the default
    # daemon settings, and the storage tools (mdadm, xfsprogs); nothing that site.yml
    # configures is there, nor the Docker SDK or the NVIDIA toolkit it installs.
    for tool in ("mdadm", "mkfs.xfs"):
        assert bed.ssh("command -v %s" % tool, check=False).returncode == 0, tool
    for tool in ("nvidia-container-runtime-hook", "nvidia-ctk"):
        assert bed.ssh("command -v %s" % tool, check=False).returncode != 0, tool
    assert bed.ssh("python3 -c 'import docker'", check=False).returncode != 0
    assert bed.ssh("test -e /raid || test -e /etc/docker/daemon.json", check=False).returncode != 0
    assert bed.out("cat /proc/mdstat | grep -c '^md' || true") == "0"
    assert bed.out("docker info --format '{{.DockerRootDir}}'") == "/var/lib/docker"
    assert bed.out("stat -f -c %T /var/lib/docker") == "ext2/ext3"


def test_dgx_a100_topology_mapped_onto_guest_nodes(bed, steps):
    subprocess.run([str(VM_SCRIPTS / "topology.sh"), str(bed.run)], check=True, env=bed.env())
    path = bed.inventory / "host_vars" / HOST / "tenant_topology.yml"
    topology = yaml.safe_load(path.read_text())["tenant_topology"]
    gpus = {g["index"]: g for g in topology["gpus"]}
    assert sorted(gpus) == list(range(8))
    # Real DGX-A100: GPU0,1 on node 3 and GPU2,3 on node 1 (socket 0); GPU4,5 on node 7 and
    # GPU6,7 on node 5 (socket 1). Mapped: socket 0 -> guest node 0, socket 1 -> guest node 1.
    assert [gpus[i]["numa_node"] for i in range(8)] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert sorted(topology["numa_nodes"]) == ["0", "1"]
    assert topology["numa_nodes"]["0"]["cpus"] == [0, 1]
    assert topology["numa_nodes"]["1"]["cpus"] == [2, 3]
    assert len(topology["links"]) == 28 and set(topology["links"].values()) == {"NV12"}
    steps.add("topology")
