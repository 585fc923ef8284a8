"""tenant_remove.yml: the container goes, its data stays unless purged; other tenants untouched."""


def ids(bed):
    return dict(line.split() for line in bed.out(
        "docker ps -a --filter label=gpulab.tenant --format '{{.Names}} {{.ID}}'").splitlines())


def test_remove_keeps_data(bed, needs, tenant_vars):
    needs("tenants")
    before = ids(bed)
    data = bed.out("docker inspect -f '{{range .Mounts}}{{if eq .Destination \"/data\"}}{{.Source}}{{end}}{{end}}' alice")
    assert data
    bed.ssh("echo precious > %s/precious" % data)
    result = bed.playbook("tenant_remove.yml", "-e", "tenant=alice", extra_vars=tenant_vars,
                          name="remove-alice")
    assert result.rc == 0, "tenant_remove.yml failed (log %s):\n%s" % (result.log, result.tail())
    assert bed.ssh("docker inspect alice", check=False).returncode != 0
    assert bed.out("cat %s/precious" % data) == "precious"
    after = ids(bed)
    assert after == {n: i for n, i in before.items() if n != "alice"}


def test_remove_with_purge_deletes_data(bed, needs, tenant_vars):
    needs("tenants")
    data = bed.out("docker inspect -f '{{range .Mounts}}{{if eq .Destination \"/data\"}}{{.Source}}{{end}}{{end}}' carol")
    assert data
    result = bed.playbook("tenant_remove.yml", "-e", "tenant=carol", "-e", "purge=true",
                          extra_vars=tenant_vars, name="remove-carol")
    assert result.rc == 0, "tenant_remove.yml purge failed (log %s):\n%s" % (result.log, result.tail())
    assert bed.ssh("docker inspect carol", check=False).returncode != 0
    assert bed.ssh("test -e %s" % data, check=False).returncode != 0
    assert bed.out("docker inspect -f '{{.State.Running}}' bob") == "true"
