"""The tenant_image role's matrix check and resolution (filter gpulab.dgx.tenant_image_matrix)."""
import os

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.filter.tenant_image_matrix import tenant_image_matrix

SETTINGS = {"repository": "gpulab/tenant", "base_repository": "nvidia/cuda", "base_image": "", "flavour": "devel",
            "ssh_packages": ["openssh-server"], "apt_packages": ["vim"], "pip_packages": []}


def resolve(*entries, **over):
    return tenant_image_matrix(list(entries), dict(SETTINGS, **over))


def refused(*entries, **over):
    with pytest.raises(AnsibleFilterError) as info:
        resolve(*entries, **over)
    return str(info.value)


@pytest.mark.parametrize("entry,base,ref", [
    ({"os": "22.04", "cuda": "12.4.1", "cudnn": 9},
     "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04", "gpulab/tenant:ubuntu22.04-cuda12.4.1-cudnn9-devel"),
    ({"os": "ubuntu20.04", "cuda": "11.8.0", "cudnn": 8, "flavour": "runtime"},
     "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu20.04", "gpulab/tenant:ubuntu20.04-cuda11.8.0-cudnn8-runtime"),
    ({"os": "24.04", "cuda": "12.6.3", "cudnn": None, "flavour": "base"},
     "nvidia/cuda:12.6.3-base-ubuntu24.04", "gpulab/tenant:ubuntu24.04-cuda12.6.3-base"),
    # A YAML float stays a version.
    ({"os": "22.04", "cuda": 12.4}, "nvidia/cuda:12.4-devel-ubuntu22.04", "gpulab/tenant:ubuntu22.04-cuda12.4-devel"),
    ({"os": "debian12", "cuda": "12.4.1", "cudnn": 9, "base_image": "local/base:1", "name": "custom"},
     "local/base:1", "gpulab/tenant:custom"),
])
def test_resolves_base_and_reference(entry, base, ref):
    (image,) = resolve(entry)
    assert (image["base"], image["ref"]) == (base, ref)


def test_packages_and_user():
    (image,) = resolve({"os": "22.04", "cuda": "12.4.1", "apt_packages": ["vim", "htop"], "pip_packages": ["torch"],
                        "user": "alice", "uid": 1500, "sudo": True})
    assert image["apt_packages"] == ["openssh-server", "vim", "htop", "python3", "python3-pip", "sudo"]
    assert image["pip_packages"] == ["torch"]
    assert (image["user"], image["uid"], image["sudo"], image["login_user"]) == ("alice", "1500", True, "alice")
    (root,) = resolve({"os": "22.04", "cuda": "12.4.1"})
    assert (root["login_user"], root["sudo"], root["apt_packages"]) == ("root", False, ["openssh-server", "vim"])


@pytest.mark.parametrize("entry,message", [
    ({"os": "jammy", "cuda": "12.4.1"}, "tenant_image_matrix[0] is invalid: os=jammy is not a release"),
    ({"os": "22.04", "cuda": "twelve"}, "cuda=twelve is not a version"),
    ({"os": "22.04", "cuda": "12.4.1", "cudnn": "9a"}, "cudnn=9a is not a major version"),
    ({"os": "22.04", "cuda": "12.4.1", "flavour": "slim"}, "flavour=slim is not one of base, runtime, devel"),
    ({"os": "22.04", "cuda": "12.4.1", "name": "a b"}, "name=a b is not a valid image tag"),
    ({"os": "22.04", "cuda": "12.4.1", "user": "root"}, "user=root is not a valid non-root user name"),
    ({"os": "22.04", "cuda": "12.4.1", "uid": 0}, "uid=0 is not a positive number"),
    ({"os": "22.04", "cuda": "12.4.1", "apt_packages": ["vim; curl evil"]},
     'apt_packages has invalid name(s) ["vim; curl evil"]'),
    ({"os": "22.04", "cuda": "12.4.1", "pip_packages": ["torch\n--index-url=x"]}, "pip_packages has invalid name(s)"),
    ({"os": "22.04", "cuda": "12.4.1", "cudnn": 8},
     "tenant_image_matrix[0] has no nvidia/cuda base tag: cudnn=8 with cuda=12.4.1"),
    ({"os": "22.04", "cuda": "12.2.2", "cudnn": 8, "flavour": "base"}, "flavour=base with cudnn=8"),
    ({"os": "debian12", "cuda": "12.4.1"}, "os=debian12 is not an Ubuntu release"),
])
def test_refuses_naming_field_and_value(entry, message):
    assert message in refused(entry)


def test_every_bad_entry_is_named():
    text = refused({"os": "jammy", "cuda": "12.4.1"}, {"os": "22.04", "cuda": "12.4.1"}, {"os": "22.04", "cuda": "x"})
    assert "tenant_image_matrix[0]" in text and "tenant_image_matrix[2]" in text and "[1]" not in text


def test_base_image_setting_lifts_the_tag_rules():
    (image,) = resolve({"os": "debian12", "cuda": "12.4.1", "cudnn": 8}, base_image="lab/base:3")
    assert image["base"] == "lab/base:3"


def test_same_reference_twice_is_refused():
    entry = {"os": "22.04", "cuda": "12.4.1"}
    assert "names the same image more than once" in refused(entry, dict(entry))
    assert len(resolve(entry, dict(entry, name="second"))) == 2


@pytest.mark.parametrize("matrix", ["22.04", [["22.04"]], {"os": "22.04"}])
def test_matrix_must_be_a_list_of_mappings(matrix):
    with pytest.raises(AnsibleFilterError, match="must be a list of mappings"):
        tenant_image_matrix(matrix, SETTINGS)


ENTRY_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 99), st.floats(allow_nan=False),
                         st.text(max_size=12), st.lists(st.text(max_size=8), max_size=3))


@settings(max_examples=int(os.environ.get("GPULAB_PROPERTY_EXAMPLES", "300")), deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["os", "cuda", "cudnn", "flavour", "name", "user", "uid",
                                                 "apt_packages", "pip_packages", "base_image", "sudo"]),
                                ENTRY_VALUES, max_size=6), max_size=3))
def test_any_matrix_is_resolved_or_refused_by_message(matrix):
    """Whatever the entries hold, the filter either resolves every entry into a well-formed reference or
    refuses with its own message: never another exception."""
    try:
        resolved = tenant_image_matrix(matrix, SETTINGS)
    except AnsibleFilterError as exc:
        assert str(exc).startswith("tenant_image_matrix")
        return
    assert len(resolved) == len(matrix)
    for image in resolved:
        assert image["ref"].startswith("gpulab/tenant:") and "\n" not in image["ref"]
