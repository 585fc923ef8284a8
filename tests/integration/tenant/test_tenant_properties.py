"""Property-based: specs generated from the tenant module's argument spec, good and bad values per
option (unicode, control characters, trailing newlines, huge numbers, '..' and symlinked paths,
files where directories belong, pasted private keys), run against the host's real dockerd.

Every run either succeeds, or fails with a message that names an option, never a traceback; after
a failure the host holds no new container, directory, file or lock file. (Quota projects need xfs
with pquota, which this host lacks: the undo of a quota project is covered by the unit tests and
the disk story of the end-to-end suite.)"""

import json
import os
import shutil
import tempfile

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.argspec import TENANT_ARGUMENT_SPEC as ARGUMENT_SPEC  # noqa: E402
from tenant_helpers import (  # noqa: E402
    HOST_ULIMITS, IMAGE_V1, NETWORK, PREFIX, cpu_topology, gpu_topology, run_module)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SANDBOX = tempfile.mkdtemp(prefix="gpulab-tenant-props.")
CONTROL = st.sampled_from(["\n", "\r", "\x00", "\x1b", "\x7f", "\t"])
WEIRD_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


def bad_text(good):
    """Text that is wrong in the ways people and attackers get it wrong, around a good value."""
    return st.one_of(
        WEIRD_TEXT,
        st.builds(lambda c: good + c, CONTROL),
        st.builds(lambda c, t: good[:1] + c + t, CONTROL, WEIRD_TEXT),
        st.just(""), st.just(" "), st.just("x" * 5000), st.just("é" + good), st.just(good.upper() + "ü"),
    )


def sandbox_paths():
    """Paths inside the sandbox (and a few system ones) in every state a path can be in."""
    return st.sampled_from([
        "base", "base/deeper", "link-etc", "link-real", "real", "file", "base/../..", "base/./x",
        "base//x", "base/x:y", "base/x,y", "base/ünï", "base/x\ny", "base/x\x00y", "missing/a/b",
    ]).map(lambda rel: os.path.join(SANDBOX, rel))


def path_strategy(name):
    fixed = {
        "data_base": ["/etc", "/", "/var/lib/docker", "/run", "/proc", "/home", "/tmp", "relative/dir", "~"],
        "archive_to": ["/etc/gpulab-archive", "relative", os.path.join(SANDBOX, "base", PREFIX + "prop", "a")],
        "lock_path": [SANDBOX, os.path.join(SANDBOX, "file", "x.lock"), "relative.lock"],
    }.get(name, [])
    return st.one_of(sandbox_paths(), st.sampled_from(fixed) if fixed else sandbox_paths())


def good_key():
    return ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGcd1Z3D0a5o1vJ8xj6mWm4S7GkQn0XoYb2s7HqkQp2K "
            "prop@test")


PRIVATE = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n"

GOOD = {
    "name": PREFIX + "prop", "state": "present", "image": IMAGE_V1, "gpus": 0, "cpus": 1, "memory": "64M",
    "disk": None, "disk_enforcement": False, "ssh_public_keys": [good_key()], "ssh_port": None,
    "ssh_port_range": "2200-2999", "ssh_bind_address": "127.0.0.1", "data_mount": "/data",
    # GPUs on the topology, none on the host dockerd (no hook): asking for one makes Docker refuse at start.
    "numa_policy": "strict", "topology": gpu_topology(2), "env": None, "labels": None, "network": NETWORK,
    "pids_limit": 256, "purge": False, "archive_to": None, "docker_host": None, "lock_timeout": 30,
    # shm_size: the default (32M of 64M). ulimits: memlock within this host's dockerd's own limit
    # (tenant_helpers.HOST_ULIMITS); when spoiled or left out, memlock -1 makes Docker refuse at start.
    "shm_size": None, "ulimits": HOST_ULIMITS,
}


def bad_value(name, option):
    kind = option.get("type", "str")
    if name == "ssh_public_keys":
        return st.one_of(st.lists(WEIRD_TEXT, max_size=3), st.just([good_key(), PRIVATE]),
                         st.just([good_key() + "\x00c"]), st.just([]), st.just(["ssh-rsa " + good_key().split()[1]]))
    if name == "topology":
        return st.one_of(st.just({"gpus": "x"}), st.just({}), st.just(cpu_topology([4095])),
                         st.dictionaries(WEIRD_TEXT, WEIRD_TEXT, max_size=3))
    if name in ("env", "labels"):
        keys = st.one_of(WEIRD_TEXT, st.just("NVIDIA_VISIBLE_DEVICES\n"), st.just("gpulab.tenant"),
                         st.just("GPULAB_X"), st.just("OK"))
        return st.dictionaries(keys, st.one_of(WEIRD_TEXT, st.integers(), st.none(), st.just(["l"])), max_size=3)
    if name == "shm_size":
        return st.one_of(bad_text("16M"), st.sampled_from(["1G", "64M", "65M", "0", "-1M", "1", "4096", "9" * 40]))
    if name == "ulimits":
        limits = st.sampled_from(["memlock", "stack", "nofile", "core", "nice", "bogus", "MEMLOCK", "stack\n"])
        odd = [-1, 0, 1024, 8388608, "1:2", "2:1", "-1:5", "unlimited", "1\n", "", None, 1.5, True]
        values = st.one_of(st.integers(-2, 2 ** 64), st.sampled_from(odd))
        return st.one_of(st.dictionaries(limits, values, max_size=3), st.just({"memlock": -1}), st.just("memlock"),
                         st.just({"stack": 1024, "memlock": 1024}))
    if kind == "int":
        return st.one_of(st.integers(-2 ** 70, 2 ** 70), st.sampled_from([-1, 0, 1, 2, 65536, 2 ** 31, 2 ** 63]),
                         st.just("1.5"), st.just("ten"))
    if kind == "bool":
        return st.sampled_from(["maybe", 2, "yes", "no", True, False])
    if kind == "path":
        return path_strategy(name)
    if kind == "dict":
        return st.one_of(st.just("not a dict"), st.dictionaries(WEIRD_TEXT, WEIRD_TEXT, max_size=2))
    if option.get("choices"):
        return st.one_of(st.sampled_from(option["choices"]), bad_text(option["choices"][0]))
    if name == "docker_host":
        return st.sampled_from(["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1", "not a url", "unix://"])
    if name in ("memory", "disk"):
        return st.one_of(bad_text("64M"), st.sampled_from(["-1G", "1e400G", "9" * 40 + "T", "0", "1.5.5G", "5M"]))
    good = GOOD.get(name) if isinstance(GOOD.get(name), str) else "x"
    return bad_text(good)


def good_value(name):
    if name == "data_base":
        return os.path.join(SANDBOX, "base")
    if name == "lock_path":
        return os.path.join(SANDBOX, "lock", "t.lock")
    return GOOD.get(name)


@st.composite
def specs(draw):
    """A good spec with a few options (none to four) made bad or left out, so that runs reach every
    stage of the module: argument parsing, validation, the host checks, Docker, and the undo."""
    names = sorted(ARGUMENT_SPEC)
    spoiled = draw(st.lists(st.sampled_from(names), max_size=4, unique=True))
    spec = {}
    for name in names:
        value = good_value(name)
        if name == "gpus":
            value = draw(st.sampled_from([0, 0, 1]))  # 1: Docker refuses at start, after the run made things
        if name in spoiled:
            # Never the defaults of data_base and lock_path: no run may make directories outside the sandbox.
            left_out = name not in ("data_base", "lock_path") and draw(st.integers(0, 4)) == 0
            value = None if left_out else draw(bad_value(name, ARGUMENT_SPEC[name]))
        if value is not None:
            spec[name] = value
    return spec


def snapshot():
    found = set()
    for root, dirs, files in os.walk(SANDBOX):
        for name in dirs + files:
            full = os.path.join(root, name)
            found.add((full, os.path.islink(full), os.path.isdir(full)))
    return found


def prepare_sandbox():
    for entry in os.listdir(SANDBOX):
        path = os.path.join(SANDBOX, entry)
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
        else:
            shutil.rmtree(path)
    os.mkdir(os.path.join(SANDBOX, "real"))
    os.mkdir(os.path.join(SANDBOX, "base"))
    os.symlink("/etc", os.path.join(SANDBOX, "link-etc"))
    os.symlink(os.path.join(SANDBOX, "real"), os.path.join(SANDBOX, "link-real"))
    with open(os.path.join(SANDBOX, "file"), "w") as handle:
        handle.write("a file\n")


def ours(client):
    return sorted(c.id for c in client.containers.list(all=True) if c.name.startswith(PREFIX))


def names_an_option(message):
    return any(name in message for name in ARGUMENT_SPEC) or "argument" in message


@pytest.fixture(scope="module")
def sandbox():
    yield SANDBOX
    shutil.rmtree(SANDBOX, ignore_errors=True)


@settings(max_examples=int(os.environ.get("GPULAB_PROPERTY_EXAMPLES", "60")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(spec=specs(), check=st.booleans())
def test_any_spec_succeeds_or_fails_cleanly(docker_client, tenant_images_built, tenant_network, sandbox, spec, check):
    prepare_sandbox()
    before_files, before_containers = snapshot(), ours(docker_client)
    try:
        result = run_module(spec, check=check)
        dumped = json.dumps(result)
        hypothesis.event("failed: " + str(result.get("field") or result.get("msg", "")[:25]) if result.get("failed")
                         else "succeeded" + (" (check mode)" if check else ""))
        assert "Traceback" not in dumped and "unexpected error" not in dumped, result
        assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in dumped, "a private key was echoed"
        if result.get("failed") or check:
            if result.get("failed"):
                assert names_an_option(result["msg"]), result["msg"]
            assert snapshot() == before_files, (result, snapshot() ^ before_files)
            assert ours(docker_client) == before_containers, result
    finally:
        for container in docker_client.containers.list(all=True):
            if container.name.startswith(PREFIX) and container.id not in before_containers:
                container.remove(force=True)
