"""A tenant writing past its disk size gets "No space left on device"; the others are unaffected."""
import shlex


def exec_in(bed, name, cmd, check=True):
    return bed.ssh("docker exec %s sh -c %s" % (name, shlex.quote(cmd)), check=check)


def test_writing_past_the_disk_size_fails_with_enospc(bed, steps, needs):
    needs("tenants")
    # carol has 200M: write 260 MiB to her root filesystem and to her data directory.
    for path in ("/fill", "/data/fill"):
        proc = exec_in(bed, "carol", "dd if=/dev/zero of=%s bs=1M count=260 conv=fsync" % path, check=False)
        assert proc.returncode != 0, proc.stdout + proc.stderr
        assert "No space left on device" in proc.stderr, proc.stderr
        written = int(exec_in(bed, "carol", "stat -c %%s %s" % path).stdout)
        assert written <= 201 * 1024 * 1024, written
    steps.add("disk-full")


def test_other_tenants_unaffected_by_a_full_neighbour(bed, needs):
    needs("disk-full")
    for name in ("alice", "bob"):
        for path in ("/scratch", "/data/scratch"):
            exec_in(bed, name, "dd if=/dev/zero of=%s bs=1M count=50 conv=fsync 2>&1 && rm %s" % (path, path))
    # The array itself still has room for everyone else.
    free = int(bed.out("df -B1 --output=avail /raid | tail -1"))
    assert free > 1024 ** 3, free


def test_full_tenant_recovers_after_deleting(bed, needs):
    needs("disk-full")
    exec_in(bed, "carol", "rm -f /fill /data/fill && dd if=/dev/zero of=/data/ok bs=1M count=10 && rm /data/ok")
