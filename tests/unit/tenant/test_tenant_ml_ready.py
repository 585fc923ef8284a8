"""ML-ready tenant containers: /dev/shm (shm_size) and rlimits (ulimits), from validation to the
Docker call, the spec hash, the read-back and Docker's refusals.

Property tests (hypothesis): any shm_size or ulimits either validates or raises SpecError naming
the option, never another exception; what validates stays within Docker's and the kernel's rules."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.alloc import allocate
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.container import (
    Desired, docker_refusal, record_summary)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.ledger import TenantRecord
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import (
    MAX_RLIMIT, ULIMIT_NAMES, SpecError, default_shm_size, validate_spec)
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.undo import field_of
from ansible_collections.gpulab.dgx.plugins.modules import tenant as tenant_module

MiB = 1024 ** 2
GiB = 1024 ** 3
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGcd1Z3D0a5o1vJ8xj6mWm4S7GkQn0XoYb2s7HqkQp2K me@host"
RLIMIT_REFUSAL = ("failed to create shim task: OCI runtime create failed: runc create failed: unable to start "
                  "container process: error during container init: error setting rlimits for ready process: "
                  "error setting rlimit type 8: operation not permitted: unknown")


def params(**over):
    base = {"name": "alice", "state": "present", "image": "img:1", "gpus": 0, "cpus": 1, "memory": "8G",
            "ssh_public_keys": [KEY], "data_base": "/srv/t"}
    base.update(over)
    return base


def topology():
    return {"gpus": [], "links": {}, "siblings": [], "numa_nodes": {"0": {"cpus": [0, 1, 2, 3], "distance": {"0": 10}}}}


def desired(**over):
    spec = validate_spec(params(**over))
    return Desired(spec, allocate(spec, None, [], topology()), 2200, "sha256:x", None, None)


@pytest.mark.parametrize("memory,shm", [
    ("6M", 3 * MiB), ("64M", 32 * MiB), ("1G", 512 * MiB), ("2G", GiB), ("3G", GiB), ("4G", GiB),
    ("8G", 2 * GiB), ("128G", 32 * GiB), ("100000000", 47 * MiB),
])
def test_default_shm_size_follows_memory(memory, shm):
    spec = validate_spec(params(memory=memory))
    assert spec.shm_size == shm
    assert spec.ulimits == {"memlock": (-1, -1), "stack": (67108864, 67108864)}


@pytest.mark.parametrize("value,shm", [("16M", 16 * MiB), ("1g", GiB), (4096, 4096), ("8G", 8 * GiB), ("", 2 * GiB)])
def test_explicit_shm_size(value, shm):
    assert validate_spec(params(memory="8G", shm_size=value)).shm_size == shm


@pytest.mark.parametrize("value,reason", [
    ("9G", "is more than memory 8G"), ("0", "more than 0"), ("-1G", "negative"), ("lots", "not a size"),
    ("1X", "unknown unit"), ("16M\n", "control characters"), (True, "not a size"),
])
def test_shm_size_refused_naming_option_and_value(value, reason):
    with pytest.raises(SpecError) as info:
        validate_spec(params(memory="8G", shm_size=value))
    assert info.value.field == "shm_size"
    assert str(info.value).startswith("shm_size: %r" % (value,)) and reason in str(info.value)


def test_ulimits_given_replace_the_defaults_they_name():
    spec = validate_spec(params(ulimits={"memlock": 8388608, "nofile": "1024:65536", "core": "0"}))
    assert spec.ulimits == {"memlock": (8388608, 8388608), "stack": (67108864, 67108864),
                            "nofile": (1024, 65536), "core": (0, 0)}
    assert validate_spec(params(ulimits={})).ulimits == validate_spec(params()).ulimits
    assert validate_spec(params(ulimits={"stack": "-1:-1", "nproc": "100:-1"})).ulimits["nproc"] == (100, -1)


@pytest.mark.parametrize("value,field,reason", [
    ({"bogus": 1}, "ulimits", "not a limit Docker sets"),
    ({"Memlock": 1}, "ulimits", "not a limit Docker sets"),
    ({"memlock\n": 1}, "ulimits", "not a limit Docker sets"),
    ({"memlock": -2}, "ulimits.memlock", "from -1"),
    ({"memlock": 2 ** 63}, "ulimits.memlock", "from -1"),
    ({"memlock": "10:5"}, "ulimits.memlock", "soft limit above its hard"),
    ({"memlock": "-1:5"}, "ulimits.memlock", "soft limit above its hard"),
    ({"memlock": "unlimited"}, "ulimits.memlock", "not a limit"),
    ({"memlock": "1\n"}, "ulimits.memlock", "not a limit"),
    ({"memlock": 1.5}, "ulimits.memlock", "not a limit"),
    ({"memlock": True}, "ulimits.memlock", "not a limit"),
    ({"memlock": None}, "ulimits.memlock", "not a limit"),
    ({"stack": "1:2:3"}, "ulimits.stack", "not a limit"),
    ("memlock=-1", "ulimits", "not a mapping"),
    ([["memlock", -1]], "ulimits", "not a mapping"),
])
def test_ulimits_refused_naming_option_and_value(value, field, reason):
    with pytest.raises(SpecError) as info:
        validate_spec(params(ulimits=value))
    assert info.value.field == field and reason in str(info.value)
    assert str(info.value).startswith(field + ": ")


LIMIT_VALUES = st.one_of(
    st.integers(-3, 3), st.integers(-2 ** 64, 2 ** 64), st.sampled_from([-1, 0, 8388608, MAX_RLIMIT, 2 ** 63]),
    st.builds(lambda a, b: "%d:%d" % (a, b), st.integers(-3, 2 ** 64), st.integers(-3, 2 ** 64)),
    st.text(max_size=12), st.booleans(), st.none(), st.floats(allow_nan=True), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)
LIMIT_NAMES = st.one_of(st.sampled_from(ULIMIT_NAMES), st.text(max_size=10), st.integers(), st.sampled_from(
    ["memlock\n", "MEMLOCK", " stack", "nofile\x00"]))
ULIMITS = st.one_of(st.none(), st.dictionaries(LIMIT_NAMES, LIMIT_VALUES, max_size=4), st.text(max_size=8),
                    st.integers(), st.lists(st.text(max_size=4), max_size=2))
SIZES = st.one_of(
    st.none(), st.integers(-2 ** 70, 2 ** 70), st.sampled_from(["", "0", "1", "16M", "8G", "8.0001G", "9G", "1e3M",
                                                                "-1", " 1G ", "1G\n", "\x001M", "5 MiB", "1P"]),
    st.text(max_size=10), st.booleans(), st.floats(allow_nan=True),
    st.builds(lambda n, u: "%s%s" % (n, u), st.decimals(allow_nan=False, allow_infinity=False, places=2),
              st.sampled_from(["", "K", "M", "G", "T", "MiB", "gb", "Q"])),
)


@settings(max_examples=400, deadline=None)
@given(shm_size=SIZES, ulimits=ULIMITS, memory=st.sampled_from(["6M", "64M", "8G", "128G"]))
def test_any_shm_size_and_ulimits_validate_or_name_the_option(shm_size, ulimits, memory):
    try:
        spec = validate_spec(params(memory=memory, shm_size=shm_size, ulimits=ulimits))
    except SpecError as exc:
        assert exc.field == "shm_size" or exc.field.startswith("ulimits"), exc
        assert str(exc).startswith(exc.field + ": ")
        return
    assert 0 < spec.shm_size <= spec.memory
    assert set(spec.ulimits) <= set(ULIMIT_NAMES) and {"memlock", "stack"} <= set(spec.ulimits)
    for soft, hard in spec.ulimits.values():
        assert -1 <= soft <= MAX_RLIMIT and -1 <= hard <= MAX_RLIMIT
        assert hard == -1 or -1 < soft <= hard
    kwargs = Desired(spec, allocate(spec, None, [], topology()), 2200, "sha256:x", None, None).create_kwargs()
    assert kwargs["shm_size"] == spec.shm_size and len(kwargs["ulimits"]) == len(spec.ulimits)


# run_module only patches AnsibleModule's exits, the same for every example.
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shm_size=SIZES, ulimits=ULIMITS)
def test_the_module_fails_naming_the_option_never_a_traceback(run_module, shm_size, ulimits):
    """Through AnsibleModule's own type handling (str and dict), before any Docker call."""
    args = params(memory="64M", shm_size=shm_size, ulimits=ulimits, topology=topology(), lock_path="/nonexistent/l",
                  docker_host="unix:///nonexistent/docker.sock")
    result = run_module(tenant_module, args, check=True)
    assert result["failed"], result
    message = result["msg"]
    assert "Traceback" not in message and "unexpected error" not in message, result
    assert (message.startswith(("shm_size", "ulimits", "docker_host", "lock_path"))
            or "argument 'shm_size'" in message or "argument 'ulimits'" in message), message


def test_desired_passes_shm_and_ulimits_to_docker():
    kwargs = desired(memory="8G", ulimits={"nofile": "1024:4096"}).create_kwargs()
    assert kwargs["shm_size"] == 2 * GiB
    assert [(u["Name"], u["Soft"], u["Hard"]) for u in kwargs["ulimits"]] == [
        ("memlock", -1, -1), ("nofile", 1024, 4096), ("stack", 67108864, 67108864)]


def test_shm_and_ulimits_are_in_the_spec_hash():
    base = desired(memory="8G", shm_size="2G").spec_hash
    assert desired(memory="8G", shm_size="2G", ulimits={"stack": 67108864}).spec_hash == base
    assert desired(memory="8G", shm_size="1G").spec_hash != base
    assert desired(memory="8G", shm_size="2G", ulimits={"memlock": 8388608}).spec_hash != base
    assert desired(memory="8G", shm_size="2G", ulimits={"stack": "8388608:67108864"}).spec_hash != base
    # An explicit shm_size keeps a memory change in place; the default follows memory (a re-creation).
    assert desired(memory="16G", shm_size="2G").spec_hash == base
    assert desired(memory="8G").spec_hash == base and desired(memory="16G").spec_hash != base


def test_summary_and_read_back_agree():
    want = desired(memory="64M", ulimits={"memlock": 8388608})
    summary = want.summary()
    assert summary["shm_size"] == "32M"
    assert summary["ulimits"] == {"memlock": {"soft": 8388608, "hard": 8388608},
                                  "stack": {"soft": 67108864, "hard": 67108864}}
    host = {"ShmSize": 32 * MiB, "Memory": 64 * MiB, "Ulimits": [
        {"Name": "memlock", "Soft": 8388608, "Hard": 8388608}, {"Name": "stack", "Soft": 67108864, "Hard": 67108864}]}
    read = record_summary(TenantRecord({"Id": "x", "Name": "/alice", "HostConfig": host,
                                        "Config": {"Labels": {"gpulab.tenant": "alice"}}}))
    assert (read["shm_size"], read["ulimits"]) == (summary["shm_size"], summary["ulimits"])
    old = record_summary(TenantRecord({"Id": "x", "HostConfig": {"ShmSize": 64 * MiB}}))
    assert old["shm_size"] == "64M" and old["ulimits"] == {}


def test_docker_rlimit_refusal_names_ulimits_with_the_fix():
    assert field_of(RLIMIT_REFUSAL) == "ulimits"
    assert field_of("invalid ulimit argument: x") == "ulimits"
    assert field_of("SHM size can not be less than 0") == "shm_size"
    assert field_of("Minimum memory limit allowed is 6MB") == "memory"

    class Refusal(Exception):
        explanation = RLIMIT_REFUSAL

    message = docker_refusal(Refusal())
    assert message.startswith(RLIMIT_REFUSAL) and "CAP_SYS_RESOURCE" in message


def test_default_shm_size_bounds():
    for memory in (6 * MiB, 6 * MiB + 1, 100 * MiB + 7, 2 * GiB - 1, 2 * GiB, 5 * GiB + 3, 2 ** 62):
        shm = default_shm_size(memory)
        assert 0 < shm <= memory and shm % MiB == 0
        assert shm >= min(GiB, memory // 2) - MiB and shm >= memory // 4 - MiB
