# -*- coding: utf-8 -*-
# Unit tests of the image prune planner and module (no Docker needed: the engine is a test
# double fed with the JSON shapes the Docker API returns).

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


import pytest

from ansible_collections.gpulab.dgx.plugins.module_utils.docker.image_prune import plan_prune
from ansible_collections.gpulab.dgx.plugins.modules import image_prune

MARK = "gpulab.tenant-image"


def img(image_id, parent="", tags=None, managed=True, base_id=None, **labels):
    lab = dict(labels)
    if managed:
        lab[MARK] = "true"
    if base_id:
        lab["gpulab.base-id"] = base_id
    return {"Id": image_id, "ParentId": parent, "RepoTags": tags, "Labels": lab}


def ctr(name, image_id):
    return {"Id": "c-" + name, "Names": ["/" + name], "ImageID": image_id}


# A small engine: os base <- (intermediates) <- A <- (intermediate) <- B <- C; D alone (dangling).
BASE = img("sha256:base", tags=["gpulab/debian12:latest"], managed=False)
I1 = img("sha256:i1", parent="sha256:base", managed=False)
A = img("sha256:a", parent="sha256:i1", tags=["t/tenant:a"], base_id="sha256:base")
I2 = img("sha256:i2", parent="sha256:a", managed=True)  # intermediate after LABEL: marked too
B = img("sha256:b", parent="sha256:i2", tags=["t/tenant:b"], base_id="sha256:a")
C = img("sha256:c", parent="", tags=["t/tenant:c"], base_id="sha256:b")  # BuildKit: no ParentId
D = img("sha256:d", parent="sha256:base", tags=None, base_id="sha256:base")
ALL = [BASE, I1, A, I2, B, C, D]
TOP = [BASE, A, B, C, D]


def ids(images):
    return [i["Id"] for i in images]


def test_nothing_in_use_removes_children_before_parents():
    plan = plan_prune(ALL, TOP, [], MARK)
    order = ids(plan["remove"])
    assert sorted(order) == ["sha256:a", "sha256:b", "sha256:c", "sha256:d"]
    assert order.index("sha256:c") < order.index("sha256:b") < order.index("sha256:a")
    assert plan["kept"] == []


def test_unmanaged_and_intermediate_images_are_never_candidates():
    plan = plan_prune(ALL, TOP, [], MARK)
    assert "sha256:base" not in ids(plan["remove"])
    assert "sha256:i2" not in ids(plan["remove"])  # intermediate: not a top-level image


def test_container_protects_its_image_and_everything_under_it_even_when_stopped():
    stopped = dict(ctr("tenant-bob", "sha256:b"), State="exited")
    plan = plan_prune(ALL, TOP, [stopped], MARK)
    assert sorted(ids(plan["remove"])) == ["sha256:c", "sha256:d"]
    kept = {k["id"]: k for k in plan["kept"]}
    assert kept["sha256:b"]["reason"] == "used by container tenant-bob"
    assert kept["sha256:a"]["reason"] == "base of t/tenant:b, used by container tenant-bob"
    assert kept["sha256:a"]["in_use"] is True


def test_base_id_label_links_buildkit_images_without_parent():
    plan = plan_prune(ALL, TOP, [ctr("x", "sha256:c")], MARK)
    assert ids(plan["remove"]) == ["sha256:d"]


def test_keep_list_pins_the_image_and_its_bases_but_not_its_children():
    plan = plan_prune(ALL, TOP, [], MARK, keep={"sha256:b"})
    assert ids(plan["remove"]) == ["sha256:c", "sha256:d"]
    kept = {k["id"]: k for k in plan["kept"]}
    assert kept["sha256:b"]["reason"] == "in the keep list"
    assert kept["sha256:b"]["in_use"] is False
    assert kept["sha256:a"]["reason"] == "base of t/tenant:b, which stays"


def test_foreign_image_built_on_a_tenant_image_pins_it():
    foreign = img("sha256:f", parent="sha256:a", tags=["someone/else:1"], managed=False)
    plan = plan_prune(ALL + [foreign], TOP + [foreign], [], MARK)
    assert "sha256:a" not in ids(plan["remove"])
    assert {k["id"]: k["reason"] for k in plan["kept"]}["sha256:a"] == "base of someone/else:1, which stays"


def test_selector_labels_narrow_the_set():
    mine = img("sha256:m", tags=["t/tenant:m"], **{"gpulab.test-run": "r1"})
    other = img("sha256:o", tags=["t/tenant:o"], **{"gpulab.test-run": "r2"})
    plan = plan_prune([mine, other], [mine, other], [], MARK, labels={"gpulab.test-run": "r1"})
    assert ids(plan["remove"]) == ["sha256:m"]


def test_marker_must_be_true():
    off = img("sha256:x", tags=["t/x:1"], managed=False, **{MARK: "false"})
    assert plan_prune([off], [off], [], MARK)["remove"] == []


class FakeEngine(object):
    """TEST DOUBLE of docker.APIClient: serves ALL/TOP, records removals, untags like Docker."""

    def __init__(self, all_images, top, containers, refuse=()):
        self.all = {i["Id"]: dict(i, RepoTags=list(i["RepoTags"] or [])) for i in all_images}
        self.top = set(ids(top))
        self.ctrs = containers
        self.calls = []
        self.refuse = set(refuse)

    def __call__(self, base_url=None, timeout=None):
        return self

    def images(self, all=False):  # pylint: disable=redefined-builtin
        return [dict(i) for k, i in self.all.items() if all or k in self.top]

    def containers(self, all=False):  # pylint: disable=redefined-builtin
        return list(self.ctrs)

    def _find(self, ref):
        for image in self.all.values():
            if ref == image["Id"] or ref in image["RepoTags"]:
                return image
        raise image_prune.NotFound("no such image: %s" % ref)

    def inspect_image(self, ref):
        return self._find(ref)

    def remove_image(self, ref, force=False, noprune=False):
        assert force is False
        self.calls.append(ref)
        if ref in self.refuse:
            raise image_prune.APIError("conflict: image is being used by a new container")
        image = self._find(ref)
        if ref in image["RepoTags"]:
            image["RepoTags"].remove(ref)
        if not image["RepoTags"]:
            del self.all[image["Id"]]


@pytest.fixture
def run(monkeypatch, run_module):
    """run(engine, args) -> (exit code, result), through the shared in-process runner (tests/unit/conftest.py)."""
    def _run(engine, args, check_mode=False, diff=False):
        monkeypatch.setattr(image_prune, "docker", type("DockerDouble", (), {"APIClient": engine}))
        # The module reaches Docker through the collection's one client factory: hand it the double.
        monkeypatch.setattr(image_prune, "connect",
                            lambda base_url, timeout, low_level: engine(base_url=base_url, timeout=timeout))
        result = run_module(image_prune, args, check=check_mode, diff=diff)
        return (1 if result["failed"] else 0), result
    return _run


def test_module_check_mode_reports_and_removes_nothing(run):
    engine = FakeEngine(ALL, TOP, [ctr("t1", "sha256:a")])
    code, result = run(engine, {}, check_mode=True, diff=True)
    assert code == 0
    assert result["changed"] is True
    assert [r["id"] for r in result["removed"]][:2] == ["sha256:c", "sha256:b"]
    assert engine.calls == []
    assert [k["id"] for k in result["kept_in_use"]] == ["sha256:a"]
    assert "t/tenant:b" in result["diff"]["before"] and "t/tenant:b" not in result["diff"]["after"]


def test_module_removes_in_order_then_is_idempotent(run):
    engine = FakeEngine(ALL, TOP, [], refuse=())
    code, result = run(engine, {"keep": ["t/tenant:a", "missing/ref:1"]})
    assert code == 0 and result["changed"] is True
    assert engine.calls == ["t/tenant:c", "t/tenant:b", "sha256:d"]
    assert "sha256:b" not in engine.all and "sha256:a" in engine.all
    code, again = run(engine, {"keep": ["t/tenant:a"]})
    assert code == 0 and again["changed"] is False and again["removed"] == []


def test_module_fails_naming_the_image_docker_refused(run):
    engine = FakeEngine(ALL, TOP, [], refuse={"t/tenant:b"})
    code, result = run(engine, {})
    assert code == 1
    assert result["failed"] is True
    assert "t/tenant:b" in result["msg"] and "conflict" in result["msg"]
    assert [r["id"] for r in result["removed"]] == ["sha256:c"]
    assert "sha256:a" in engine.all
