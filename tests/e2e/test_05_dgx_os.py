"""The test bed becomes the machine NVIDIA ships: DGX OS's shape, before any gpulab.dgx run.

/dev/md1 (mdadm raid0 over the four data drives) as ext4 on /raid holding a tree of the admin's
files, the NVIDIA Container Toolkit installed (the TEST-DOUBLE packages stand in for NVIDIA's),
and /etc/docker/daemon.json as `nvidia-ctk runtime configure --runtime=docker --set-as-default`
writes it, plus a key of the admin's own. Docker's data is on the root disk."""
import json

DAEMON_JSON = {
    "default-runtime": "nvidia",
    "runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}},
    "insecure-registries": ["registry.lab.internal:5000"],
}
TOOLKIT = ("libnvidia-container1", "libnvidia-container-tools", "nvidia-container-toolkit-base",
           "nvidia-container-toolkit")
# The admin's files on /raid: datasets, a home, a file with spaces, a hard link, a symlink.
ADMIN_TREE = """
set -e
mkdir -p /raid/datasets/cifar10 '/raid/home/alice/my notes' /raid/models
head -c 3000000 /dev/urandom > /raid/datasets/cifar10/data_batch_1.bin
head -c 1000000 /dev/urandom > /raid/models/resnet50.pt
echo 'results of week 12' > '/raid/home/alice/my notes/week 12.txt'
ln /raid/models/resnet50.pt /raid/models/resnet50-hardlink.pt
ln -s ../../models/resnet50.pt /raid/home/alice/model.pt
chown -R 1000:1000 /raid/home/alice
"""
CHECKSUMS = "cd /raid && find . -path ./docker -prune -o -path ./gpulab -prune -o -type f -print0 | sort -z | xargs -0 sha256sum"


def test_shape_the_test_bed_as_dgx_os(bed, steps, needs):
    needs("reachable")
    debs = bed.run / "nvidia-debs"
    copy = bed.ansible("ansible.builtin.copy", "src=%s/ dest=/var/tmp/nvidia-debs/" % debs)
    assert copy.returncode == 0, copy.stdout + copy.stderr
    bed.ssh("dpkg -i " + " ".join("/var/tmp/nvidia-debs/%s_*.deb" % p for p in TOOLKIT))
    bed.ssh("mkdir -p /etc/docker && cat > /etc/docker/daemon.json <<'EOF'\n%s\nEOF\nsystemctl restart docker"
            % json.dumps(DAEMON_JSON, indent=4))
    bed.ssh("mdadm --create /dev/md1 --run --level=0 --raid-devices=4 "
            "/dev/nvme0n1 /dev/nvme1n1 /dev/nvme2n1 /dev/nvme3n1 && mkfs.ext4 -q /dev/md1 "
            "&& mdadm --detail --brief /dev/md1 >> /etc/mdadm/mdadm.conf "
            "&& mkdir -p /raid && echo '/dev/md1 /raid ext4 defaults 0 2' >> /etc/fstab && mount /raid")
    bed.ssh(ADMIN_TREE)
    (bed.run / "raid-admin-files.sha256").write_text(bed.out(CHECKSUMS))
    steps.add("dgx-os")


def test_it_looks_like_dgx_os(bed, needs):
    needs("dgx-os")
    assert bed.out("findmnt -n -o FSTYPE,SOURCE /raid").split() == ["ext4", "/dev/md1"]
    assert json.loads(bed.out("cat /etc/docker/daemon.json"))["default-runtime"] == "nvidia"
    assert bed.out("docker info --format '{{.DefaultRuntime}}'") == "nvidia"
    assert bed.out("docker info --format '{{.DockerRootDir}}'") == "/var/lib/docker"
    assert "TEST DOUBLE" in bed.out("cat $(command -v nvidia-container-runtime-hook)")
    assert len(bed.out(CHECKSUMS).splitlines()) == 4
