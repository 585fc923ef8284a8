"""The MIG layout (nvidia-mig-parted's config format) and the per-GPU plan: idempotent, only what differs,
never a GPU a tenant holds."""

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.common.errors import FieldError
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.layout import Desired, read_layout
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.plan import current_state, plan

# nvidia-mig-parted's own example (examples/config.yaml), abridged: its format, its names.
EXAMPLE = {
    "version": "v1",
    "mig-configs": {
        "all-disabled": [{"devices": "all", "mig-enabled": False}],
        "all-enabled": [{"devices": "all", "mig-enabled": True, "mig-devices": {}}],
        "all-1g.10gb": [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": 7}}],
        "all-balanced": [{"devices": "all", "mig-enabled": True,
                          "mig-devices": {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1}}],
        "custom-config": [
            {"devices": [0, 1], "mig-enabled": False},
            {"devices": [2], "mig-enabled": True, "mig-devices": {"1g.10gb": 7}},
            {"devices": [3], "mig-enabled": True, "mig-devices": {"3g.40gb": 2}}],
    },
}


def mig(gpu, slot):
    return "MIG-%08d-0000-5000-8000-%012d" % (gpu, slot)


def host(states):
    """GPUs 0..n-1: states[i] is None (no MIG), [] (MIG off), or a list of profiles (MIG on)."""
    gpus = []
    for index, state in enumerate(states):
        gpu = {"index": index, "name": "NVIDIA A100-SXM4-80GB", "mig_mode": None if state is None else "Disabled"}
        if isinstance(state, tuple):
            gpu["mig_mode"] = "Enabled"
            gpu["mig_instances"] = [{"profile": p, "gi": s + 1, "ci": 0, "uuid": mig(index, s)} for s, p in enumerate(state)]
        gpus.append(gpu)
    return {"gpus": gpus}


def test_the_custom_layout_reads_per_gpu():
    desired = read_layout(EXAMPLE, "custom-config", [0, 1, 2, 3, 4])
    assert sorted(desired) == [0, 1, 2, 3]  # GPU 4 is not named: left as it is
    assert desired[2].as_dict() == {"mig_enabled": True, "mig_devices": {"1g.10gb": 7}}
    assert desired[0].as_dict() == {"mig_enabled": False, "mig_devices": {}}


@pytest.mark.parametrize("config, name, field, words", [
    ([], "x", "config", "must be a mapping"),
    ({"version": "v2", "mig-configs": {"a": []}}, "a", "config.version", "must be v1"),
    ({"version": "v1", "mig-configs": {}}, "a", "config.mig-configs", "at least one"),
    ({"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": True}]}, "extra": 1}, "a", "config", "not a key"),
    (EXAMPLE, "all-2g", "name", "is not a layout"),
    ({"version": "v1", "mig-configs": {"a": []}}, "a", "config.mig-configs.a", "at least one entry"),
    ({"version": "v1", "mig-configs": {"a": [{"devices": "all"}]}}, "a", "config.mig-configs.a[0].mig-enabled", "required"),
    ({"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": "yes"}]}}, "a",
     "config.mig-configs.a[0].mig-enabled", "true or false"),
    ({"version": "v1", "mig-configs": {"a": [{"devices": [9], "mig-enabled": False}]}}, "a",
     "config.mig-configs.a[0].devices", "not a GPU of this host"),
    ({"version": "v1", "mig-configs": {"a": [{"devices": [0], "mig-enabled": False},
                                             {"devices": [0], "mig-enabled": True, "mig-devices": {}}]}},
     "a", "config.mig-configs.a[1].devices", "earlier entry"),
    # As nvidia-mig-parted (0.5.0, assert --valid-config): MIG on needs mig-devices, {} for no instances.
    ({"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": True}]}},
     "a", "config.mig-configs.a[0].mig-devices", "is required with mig-enabled: true"),
    ({"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": False, "mig-devices": {"1g.10gb": 1}}]}},
     "a", "config.mig-configs.a[0].mig-devices", "needs mig-enabled"),
    ({"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": True, "mig-devices": {"huge": 1}}]}},
     "a", "config.mig-configs.a[0].mig-devices", "not a MIG profile"),
    ({"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": 8}}]}},
     "a", "config.mig-configs.a[0].mig-devices.1g.10gb", "from 0 to 7"),
    ({"version": "v1", "mig-configs": {"a": [{"device-filter": "0x20B010DE", "devices": "all", "mig-enabled": False}]}},
     "a", "config.mig-configs.a[0].device-filter", "not supported"),
])
def test_bad_layouts_name_the_field(config, name, field, words):
    with pytest.raises(FieldError) as caught:
        read_layout(config, name, [0, 1, 2, 3])
    assert caught.value.field == field and words in caught.value.reason


def test_apply_then_again_changes_nothing():
    desired = read_layout(EXAMPLE, "custom-config", [0, 1, 2, 3])
    changes, refusals = plan(host([[], [], [], []]), desired, {})
    assert not refusals and [c.index for c in changes] == [2, 3]
    assert changes[0].as_dict()["commands"] == ["nvidia-smi -i 2 -mig 1", "nvidia-smi mig -i 2 -cgi " + ",".join(["1g.10gb"] * 7) + " -C"]
    done = host([[], [], tuple(["1g.10gb"] * 7), ("3g.40gb", "3g.40gb")])
    assert plan(done, desired, {}) == ([], [])


def test_a_different_layout_rebuilds_only_the_gpus_that_differ():
    now = host([tuple(["1g.10gb"] * 7), ("3g.40gb", "3g.40gb"), []])
    desired = read_layout(EXAMPLE, "all-1g.10gb", [0, 1, 2])
    changes, _refusals = plan(now, desired, {})
    assert [c.index for c in changes] == [1, 2]
    assert changes[0].as_dict()["commands"] == [
        "nvidia-smi mig -i 1 -dci", "nvidia-smi mig -i 1 -dgi", "nvidia-smi mig -i 1 -cgi " + ",".join(["1g.10gb"] * 7) + " -C"]
    off = plan(now, read_layout(EXAMPLE, "all-disabled", [0, 1, 2]), {})[0]
    assert [c.as_dict()["commands"][-1] for c in off] == ["nvidia-smi -i 0 -mig 0", "nvidia-smi -i 1 -mig 0"]


def test_a_held_gpu_is_refused_naming_the_tenant_and_nothing_else_is_planned_around_it():
    now = host([("3g.40gb", "3g.40gb"), []])
    changes, refusals = plan(now, read_layout(EXAMPLE, "all-1g.10gb", [0, 1]), {0: "alice"})
    assert refusals == ["GPU 0 is held by tenant alice: remove the tenant (or move it to another GPU) before repartitioning GPU 0"]
    # A held GPU already as the layout wants it is not refused: nothing to do there.
    assert plan(host([("3g.40gb", "3g.40gb")]), read_layout(
        {"version": "v1", "mig-configs": {"a": [{"devices": [0], "mig-enabled": True, "mig-devices": {"3g.40gb": 2}}]}},
        "a", [0]), {0: "alice"}) == ([], [])


def test_a_gpu_without_mig_cannot_be_enabled_but_counts_as_disabled():
    changes, refusals = plan(host([None]), read_layout(EXAMPLE, "all-enabled", [0]), {})
    assert not changes and "has no MIG mode" in refusals[0]
    assert plan(host([None]), read_layout(EXAMPLE, "all-disabled", [0]), {}) == ([], [])


STATES = st.one_of(st.just([]), st.lists(st.sampled_from(["1g.10gb", "2g.20gb", "3g.40gb"]), max_size=7).map(tuple))
WANTS = st.one_of(st.just(Desired(False)), st.dictionaries(st.sampled_from(["1g.10gb", "2g.20gb", "3g.40gb"]),
                                                           st.integers(0, 3)).map(lambda d: Desired(True, d)))


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.tuples(STATES, WANTS, st.booleans()), min_size=1, max_size=8))
def test_planned_steps_reach_the_layout_and_never_touch_a_held_gpu(gpus):
    now = host([s for s, _want, _held in gpus])
    desired = dict((i, w) for i, (_state, w, _held) in enumerate(gpus))
    held = dict((i, "t%d" % i) for i, (_state, _want, h) in enumerate(gpus) if h)
    changes, refusals = plan(now, desired, held)
    for change in changes:
        assert change.index not in held
        # Replay the steps on the GPU's state: they end where the layout says.
        state = current_state(now["gpus"][change.index])
        enabled, instances = state["mig_enabled"], [p for p, n in state["mig_devices"].items() for _copy in range(n)]
        for step in change.steps:
            if step[-1] in ("-dci",):
                continue
            if step[-1] == "-dgi":
                instances = []
            elif step[-2] == "-mig":
                assert not instances  # MIG mode changes only on an empty GPU
                enabled = step[-1] == "1"
            else:
                assert enabled and step[3] == "-cgi"
                instances += step[4].split(",")
        assert {"mig_enabled": enabled, "mig_devices": dict(sorted((p, instances.count(p)) for p in set(instances)))} \
            == change.after.as_dict()
    untouched = set(desired) - set(c.index for c in changes) - set(int(r.split()[1]) for r in refusals)
    for index in untouched:  # what is not changed (nor refused) is already as the layout wants
        assert current_state(now["gpus"][index]) == desired[index].as_dict()


def test_an_entry_naming_no_gpu_is_accepted_as_nvidia_mig_parted_accepts_it():
    config = {"version": "v1", "mig-configs": {"a": [{"devices": [], "mig-enabled": True, "mig-devices": {"1g.10gb": 7}},
                                                     {"devices": [1], "mig-enabled": False}]}}
    assert list(read_layout(config, "a", [0, 1])) == [1]
