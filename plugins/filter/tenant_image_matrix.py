# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant_image role's matrix, checked and resolved into image references and bases (no program in Jinja)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: tenant_image_matrix
short_description: Check the tenant image matrix and resolve each entry into its image reference and base
version_added: 0.1.0
author: gpulab.dgx maintainers (@gpulab)
description:
  - Takes O(_input), the P(gpulab.dgx.tenant_image#role) role's C(tenant_image_matrix), and the role's
    settings; returns one resolved image per entry (reference, tag, base image, packages, user).
  - Fails, before anything is built, naming every bad entry by its index, field and value; also when
    an entry names no existing nvidia/cuda tag or two entries resolve to the same reference.
options:
  _input:
    description: The matrix, a list of entries (C(os), C(cuda), C(cudnn), C(flavour), C(base_image),
      C(name), C(apt_packages), C(pip_packages), C(user), C(uid), C(sudo)).
    type: list
    elements: dict
    required: true
  settings:
    description: The role's C(tenant_image_*) values without the prefix (C(repository), C(base_repository),
      C(base_image), C(flavour), C(ssh_packages), C(apt_packages), C(pip_packages)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Resolve the matrix
  ansible.builtin.set_fact:
    resolved: "{{ tenant_image_matrix | gpulab.dgx.tenant_image_matrix(settings) }}"
"""

RETURN = r"""
_value:
  description: The resolved images, in matrix order, each with C(ref), C(repository), C(tag), C(base), C(os),
    C(cuda), C(cudnn), C(flavour), C(user), C(uid), C(sudo), C(login_user), C(apt_packages), C(pip_packages).
  type: list
  elements: dict
"""

import json
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.compat.version import LooseVersion
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.six import string_types

FLAVOURS = ("base", "runtime", "devel")
# nvidia/cuda dropped the cuDNN major from its tags at CUDA 12.4 ("12.4.1-cudnn-devel-..."),
# and those tags carry cuDNN 9; older tags name it ("11.8.0-cudnn8-devel-...").
UNVERSIONED_CUDNN_FROM = "12.4"
UNVERSIONED_CUDNN_MAJOR = "9"
OS_RE = re.compile(r"[a-z]*[0-9][0-9.]*")
UBUNTU_RE = re.compile(r"[0-9]+\.[0-9]+")
CUDA_RE = re.compile(r"[0-9]+\.[0-9]+(\.[0-9]+)?")
CUDNN_RE = re.compile(r"([0-9]+)?")
UID_RE = re.compile(r"[1-9][0-9]*")
APT_RE = re.compile(r"[a-z0-9][a-z0-9.+-]*(=[A-Za-z0-9.+:~-]+)?")
PIP_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\[\],<>=!~+-]*")
USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def _text(value):
    """A matrix value as the role writes it: None as empty, numbers as their YAML spelling."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _match(pattern, value):
    return isinstance(value, string_types) and pattern.fullmatch(value) is not None


def _unversioned_cudnn(cuda):
    return LooseVersion(cuda) >= LooseVersion(UNVERSIONED_CUDNN_FROM)


def field_problems(entry, default_flavour):
    """What is wrong with one entry's fields, each naming the field and its value."""
    problems = []
    os_name = entry.get("os")
    if not _match(OS_RE, os_name):
        problems.append('os=%s is not a release such as "22.04" or "debian12"' % _text(os_name or "(missing)"))
    cuda = _text(entry.get("cuda"))
    if not CUDA_RE.fullmatch(cuda):
        problems.append('cuda=%s is not a version such as "12.4.1"' % (cuda or "(missing)"))
    cudnn = _text(entry.get("cudnn"))
    if not CUDNN_RE.fullmatch(cudnn):
        problems.append("cudnn=%s is not a major version such as 9 (or null)" % cudnn)
    flavour = entry.get("flavour") or default_flavour
    if not isinstance(flavour, string_types) or flavour not in FLAVOURS:
        problems.append("flavour=%s is not one of %s" % (flavour, ", ".join(FLAVOURS)))
    if "name" in entry and not _match(TAG_RE, entry["name"]):
        problems.append("name=%s is not a valid image tag" % _text(entry["name"]))
    if "user" in entry and (not _match(USER_RE, entry["user"]) or entry["user"] == "root"):
        problems.append("user=%s is not a valid non-root user name" % _text(entry["user"]))
    if "uid" in entry and not UID_RE.fullmatch(_text(entry["uid"])):
        problems.append("uid=%s is not a positive number" % _text(entry["uid"]))
    for field, pattern in (("apt_packages", APT_RE), ("pip_packages", PIP_RE)):
        names = entry.get(field) or []
        if not isinstance(names, list):
            problems.append("%s=%s is not a list of package names" % (field, _text(names)))
            continue
        bad = [name for name in names if not _match(pattern, name)]
        if bad:
            problems.append("%s has invalid name(s) %s" % (field, json.dumps(bad, default=str)))
    if entry.get("base_image") is not None and not isinstance(entry["base_image"], string_types):
        problems.append("base_image=%s is not an image reference" % _text(entry["base_image"]))
    try:
        boolean(entry.get("sudo") or False)
    except TypeError:
        problems.append("sudo=%s is not true or false" % _text(entry["sudo"]))
    return problems


def tag_problems(entry, default_flavour, base_image):
    """Why an entry without a base image names no nvidia/cuda tag (empty when it names one)."""
    if entry.get("base_image") or base_image:
        return []
    problems = []
    os_name = re.sub(r"^ubuntu", "", entry["os"])
    cuda = _text(entry["cuda"])
    cudnn = _text(entry.get("cudnn"))
    flavour = entry.get("flavour") or default_flavour
    if not UBUNTU_RE.fullmatch(os_name):
        problems.append("os=%s is not an Ubuntu release (nvidia/cuda bases are ubuntu<os>)" % entry["os"])
    if cudnn and flavour == "base":
        problems.append("flavour=base with cudnn=%s (cuDNN tags exist for runtime and devel only)" % cudnn)
    if cudnn not in ("", UNVERSIONED_CUDNN_MAJOR) and _unversioned_cudnn(cuda):
        problems.append("cudnn=%s with cuda=%s (tags from CUDA %s on carry cuDNN %s only)"
                        % (cudnn, cuda, UNVERSIONED_CUDNN_FROM, UNVERSIONED_CUDNN_MAJOR))
    if problems:
        problems.append("set base_image on the entry (or tenant_image_base_image) to build from another image")
    return problems


def resolve(entry, s):
    """One entry as the build tasks use it."""
    os_name = re.sub(r"^ubuntu", "", entry["os"])
    os_tag = ("ubuntu" + os_name) if os_name[:1].isdigit() else os_name
    cuda = _text(entry["cuda"])
    cudnn = _text(entry.get("cudnn"))
    flavour = entry.get("flavour") or s["flavour"]
    cudnn_tag = "" if not cudnn else ("cudnn-" if _unversioned_cudnn(cuda) else "cudnn%s-" % cudnn)
    derived = "%s:%s-%s%s-ubuntu%s" % (s["base_repository"], cuda, cudnn_tag, flavour, os_name)
    tag = entry.get("name") or "%s-cuda%s%s-%s" % (os_tag, cuda, ("-cudnn" + cudnn) if cudnn else "", flavour)
    pip = list(s.get("pip_packages") or []) + list(entry.get("pip_packages") or [])
    sudo = boolean(entry.get("sudo") or False)
    apt = (list(s.get("ssh_packages") or []) + list(s.get("apt_packages") or []) + list(entry.get("apt_packages") or [])
           + (["python3", "python3-pip"] if pip else []) + (["sudo"] if sudo else []))
    return {
        "ref": "%s:%s" % (s["repository"], tag), "repository": s["repository"], "tag": tag,
        "base": entry.get("base_image") or s.get("base_image") or derived,
        "os": os_tag, "cuda": cuda, "cudnn": cudnn, "flavour": flavour,
        "user": entry.get("user") or "", "uid": _text(entry.get("uid")), "sudo": sudo,
        "login_user": entry.get("user") or "root",
        "apt_packages": _unique(apt), "pip_packages": _unique(pip),
    }


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def tenant_image_matrix(matrix, settings):
    """The resolved matrix; AnsibleFilterError naming every bad entry when any is bad."""
    if not isinstance(matrix, list) or not all(isinstance(e, dict) for e in matrix):
        raise AnsibleFilterError("tenant_image_matrix must be a list of mappings (os, cuda, cudnn, flavour, ...); "
                                 "got %s" % json.dumps(matrix, default=str))
    errors = []
    for index, entry in enumerate(matrix):
        problems = field_problems(entry, settings["flavour"])
        if problems:
            errors.append("tenant_image_matrix[%d] is invalid: %s" % (index, "; ".join(problems)))
            continue
        problems = tag_problems(entry, settings["flavour"], settings.get("base_image"))
        if problems:
            errors.append("tenant_image_matrix[%d] has no nvidia/cuda base tag: %s" % (index, "; ".join(problems)))
    if errors:
        raise AnsibleFilterError(" | ".join(errors))
    resolved = [resolve(entry, settings) for entry in matrix]
    refs = [image["ref"] for image in resolved]
    twice = _unique([ref for ref in refs if refs.count(ref) > 1])
    if twice:
        raise AnsibleFilterError("tenant_image_matrix names the same image more than once: %s; give the entries "
                                 "distinct `name`s." % json.dumps(twice))
    return resolved


class FilterModule(object):

    def filters(self):
        return {"tenant_image_matrix": tenant_image_matrix}
