"""Day one on DGX OS, as docs/day1.md prints it: move /raid's data off, convert /raid with the
documented -e flags (ext4 on the kept md1 becomes xfs with pquota, Docker's data moves onto it),
put the data back; then site.yml again changes nothing."""
import json

from day1 import block, extra_vars
from testbed import REPO
from test_05_dgx_os import CHECKSUMS, DAEMON_JSON

# Task results of a no-op site.yml on the test bed: 150 before the roles skipped what is in place.
NOOP_SITE_RESULTS = 75


def test_site_converts_dgx_os_as_day1_says(bed, steps, needs):
    needs("dgx-os")
    assert (REPO / "playbooks" / "site.yml").is_file(), "playbooks/site.yml is missing"
    for line in block("backup"):
        bed.ssh(line, sudo=False)
    convert = block("convert")
    assert len(convert) == 1 and "gpulab.dgx.site" in convert[0], convert
    flags = [arg for pair in extra_vars(convert[0]) for arg in ("-e", pair)]
    assert flags, convert
    result = bed.playbook("site.yml", *flags, name="site-1")
    assert result.rc == 0, "site.yml failed (log %s):\n%s" % (result.log, result.tail())
    for line in block("restore"):
        bed.ssh(line, sudo=False)
    steps.add("site")


def test_admin_files_are_back_where_day1_says(bed, needs):
    needs("site")
    assert bed.out(CHECKSUMS) == (bed.run / "raid-admin-files.sha256").read_text()
    assert bed.out("stat -c %h /raid/models/resnet50.pt") == "2"  # the hard link survived as one
    assert bed.out("readlink /raid/home/alice/model.pt") == "../../models/resnet50.pt"
    assert bed.out("stat -c %u:%g '/raid/home/alice/my notes/week 12.txt'") == "1000:1000"


def test_daemon_json_kept_the_admins_keys(bed, needs):
    needs("site")
    daemon = json.loads(bed.out("cat /etc/docker/daemon.json"))
    # The toolkit role's `nvidia-ctk runtime configure` may add keys (runtimeArgs) to the runtime entry.
    nvidia = daemon["runtimes"]["nvidia"]
    assert {k: nvidia.get(k) for k in DAEMON_JSON["runtimes"]["nvidia"]} == DAEMON_JSON["runtimes"]["nvidia"], daemon
    assert daemon["insecure-registries"] == DAEMON_JSON["insecure-registries"], daemon
    # docs/day1.md: the inventory removes default-runtime (docker_engine_daemon_options).
    assert "default-runtime" not in daemon, daemon
    assert bed.out("docker info --format '{{.DefaultRuntime}}'") == "runc"


def test_md_raid0_over_the_four_drives(bed, needs):
    needs("site")
    detail = dict(line.split("=", 1) for line in bed.out("mdadm --detail --export /dev/md1").splitlines()
                  if "=" in line)
    assert detail["MD_LEVEL"] == "raid0"
    assert detail["MD_DEVICES"] == "4"
    members = sorted(v for k, v in detail.items() if k.startswith("MD_DEVICE_") and k.endswith("_DEV"))
    assert members == ["/dev/nvme0n1", "/dev/nvme1n1", "/dev/nvme2n1", "/dev/nvme3n1"]
    # Recorded for assembly at boot.
    assert "ARRAY /dev/md1" in bed.out("cat /etc/mdadm/mdadm.conf")


def test_xfs_ftype1_mounted_with_pquota_on_raid(bed, needs):
    needs("site")
    assert "ftype=1" in bed.out("xfs_info /raid")
    mount = json.loads(bed.out("findmnt -J -o SOURCE,FSTYPE,OPTIONS /raid"))["filesystems"][0]
    assert mount["fstype"] == "xfs"
    assert "prjquota" in mount["options"].split(","), mount
    assert bed.out("readlink -f %s" % mount["source"]) == "/dev/md1"
    fstab = bed.out("awk '$2 == \"/raid\"' /etc/fstab")
    assert "xfs" in fstab and "pquota" in fstab, fstab


def test_docker_data_on_raid(bed, needs):
    needs("site")
    info = json.loads(bed.out("docker info --format '{{json .}}'"))
    assert info["Driver"] == "overlay2"
    status = dict(info["DriverStatus"])
    assert status.get("Backing Filesystem") == "xfs" and status.get("Supports d_type") == "true", status
    # data-root on the array, or /var/lib/docker bind-mounted from it: either way on /raid.
    assert bed.out("findmnt -n -o TARGET -T %s" % info["DockerRootDir"]) in ("/raid", "/var/lib/docker")
    assert bed.out("stat -f -c %%T %s" % info["DockerRootDir"]) == "xfs"
    assert bed.out("findmnt -n -o SOURCE -T %s | xargs readlink -f" % info["DockerRootDir"]) == "/dev/md1"
    assert bed.out("systemctl is-enabled docker") == "enabled"


def test_docker_accepts_gpu_requests_through_the_hook_double(bed, needs):
    needs("site")
    # The nvidia_container_toolkit role installed TEST-DOUBLE packages whose stand-in
    # nvidia-container-runtime-hook makes dockerd register its nvidia device driver.
    assert "TEST DOUBLE" in bed.out("cat $(command -v nvidia-container-runtime-hook)")
    daemon = json.loads(bed.out("cat /etc/docker/daemon.json"))
    assert "nvidia" in daemon.get("runtimes", {}), daemon
    assert daemon.get("default-runtime", "runc") != "nvidia"


def test_site_again_changes_nothing(bed, steps, needs):
    needs("site")
    result = bed.playbook("site.yml", name="site-2")
    assert result.rc == 0, "second site.yml failed (log %s):\n%s" % (result.log, result.tail())
    assert result.changed == 0, "second site.yml changed %s task(s) (log %s):\n%s" % (
        result.changed, result.log, "\n".join(l for l in result.output.splitlines() if l.startswith("changed:")))
    # A re-run reads the host and skips what is in place: at most half the 150 task results
    # (ok + skipped, loop items one each) a no-op re-run reported before the roles read first.
    tasks = result.tasks
    assert tasks, "the task_results callback wrote no counts (log %s)" % result.log
    assert tasks["results"] <= NOOP_SITE_RESULTS, "second site.yml reported %d task results (%s), budget %d" % (
        tasks["results"], tasks, NOOP_SITE_RESULTS)
    steps.add("site-idempotent")
