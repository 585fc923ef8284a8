#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_prune
short_description: Remove tenant images that no container uses, derived images before their bases
version_added: "0.1.0"
description:
  - Finds the images built by the P(gpulab.dgx.tenant_image#role) role (top-level images whose
    O(label) is V(true) and which carry every label in O(labels)), including old builds that a
    rebuild left without a tag.
  - Never removes an image that a container uses, running or stopped, nor an image under one
    (a base of the container's image); such images are returned in RV(kept_in_use).
  - Also keeps images named in O(keep), and the bases of any image that stays, whoever built it.
  - Removes the rest children first, so an image derived from another tenant image goes before
    its base. Each tag is removed without force; Docker then deletes the image once untagged.
author:
  - gpulab.dgx maintainers (@gpulab)
options:
  label:
    description:
      - Label that marks the images this module manages; only images where it is V(true) count.
    type: str
    default: gpulab.tenant-image
  labels:
    description:
      - Further labels an image must carry, with these exact values, to be considered.
      - Use it to narrow the prune to one set of images (for example one test run).
    type: dict
    default: {}
  keep:
    description:
      - Image references (V(repository:tag) or ids) never to remove, for example the images of
        the current matrix. References that do not exist are ignored.
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds to wait for each Docker API call.
    type: int
    default: 120
attributes:
  check_mode:
    support: full
    description: Reports what would be removed, in order, and removes nothing.
  diff_mode:
    support: full
    description: Shows the managed images before and after.
  idempotent:
    support: full
    description: A second run finds nothing more to remove and reports no change.
notes:
  - Removal order follows the image parent chain (legacy builder) and the C(gpulab.base-id)
    label the role records, so it also holds for images built with BuildKit.
  - A container created between the plan and a removal makes Docker refuse that removal; the
    module then fails, naming the image and Docker's answer, and reports what it removed so far.
seealso:
  - name: docker image rm
    description: How Docker removes tags and images.
    link: https://docs.docker.com/reference/cli/docker/image/rm/
extends_documentation_fragment:
  - gpulab.dgx.docker
"""

EXAMPLES = r"""
- name: Remove tenant images no container uses, keeping the current matrix
  gpulab.dgx.image_prune:
    keep:
      - gpulab/tenant:ubuntu22.04-cuda12.4.1-cudnn9-devel

- name: Show what a prune would remove
  gpulab.dgx.image_prune:
  check_mode: true
  register: plan

- name: Prune only the images of one set
  gpulab.dgx.image_prune:
    labels:
      gpulab.image-set: lab-a
"""

RETURN = r"""
removed:
  description:
    - Images removed (or, in check mode, to be removed) in the order of removal, derived images
      before their bases.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Image id.
      type: str
      sample: sha256:3f1c...
    name:
      description: The image's tags joined by a comma, or its short id when it has none.
      type: str
      sample: gpulab/tenant:ubuntu22.04-cuda12.4.1-cudnn9-devel
    tags:
      description: The image's tags.
      type: list
      elements: str
      sample: [gpulab/tenant:ubuntu22.04-cuda12.4.1-cudnn9-devel]
kept_in_use:
  description: Managed images kept because a container uses them or an image built on them.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Image id.
      type: str
    name:
      description: Tags or short id.
      type: str
    tags:
      description: The image's tags.
      type: list
      elements: str
    reason:
      description: Why it stays.
      type: str
      sample: used by container tenant-alice
kept:
  description:
    - Every managed image that stays, with the reason (in use, in O(keep), or the base of an
      image that stays).
  returned: always
  type: list
  elements: dict
  sample:
    - id: sha256:3f1c...
      name: gpulab/tenant:ubuntu22.04-cuda12.4.1-cudnn9-devel
      tags: [gpulab/tenant:ubuntu22.04-cuda12.4.1-cudnn9-devel]
      reason: in the keep list
      in_use: false
"""

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.gpulab.dgx.plugins.module_utils.common.module import new_module
from ansible_collections.gpulab.dgx.plugins.module_utils.docker.client import DockerUnreachable, connect, resolve_host
from ansible_collections.gpulab.dgx.plugins.module_utils.docker.image_prune import (
    describe,
    plan_prune,
    summary,
)

DOCKER_IMPORT_ERROR = None
try:
    import docker
    from docker.errors import APIError, DockerException, NotFound
except ImportError:
    DOCKER_IMPORT_ERROR = traceback.format_exc()
    docker = None
    APIError = DockerException = NotFound = Exception


def _resolve_keep(client, refs):
    ids = set()
    for ref in refs:
        try:
            ids.add(client.inspect_image(ref)["Id"])
        except NotFound:
            continue
    return ids


def _remove(client, image):
    """Remove an image tag by tag (never forced), then by id if an untagged image is left."""
    for tag in sorted(image.get("RepoTags") or []):
        if tag and tag != "<none>:<none>":
            client.remove_image(tag, force=False, noprune=False)
    try:
        client.inspect_image(image["Id"])
    except NotFound:
        return
    client.remove_image(image["Id"], force=False, noprune=False)


def run_module():
    module = new_module(
        argument_spec=dict(
            label=dict(type="str", default="gpulab.tenant-image"),
            labels=dict(type="dict", default={}),
            keep=dict(type="list", elements="str", default=[]),
            docker_host=dict(type="str"),
            timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    if docker is None:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)

    labels = dict((k, str(v)) for k, v in module.params["labels"].items())
    base_url = resolve_host(module.params["docker_host"])
    try:
        client = connect(base_url, timeout=module.params["timeout"], low_level=True)
        all_images = client.images(all=True)
        top_level = client.images(all=False)
        containers = client.containers(all=True)
        keep = _resolve_keep(client, module.params["keep"])
    except (DockerException, DockerUnreachable) as exc:
        module.fail_json(msg="cannot read images and containers from %s: %s" % (base_url, exc))

    plan = plan_prune(all_images, top_level, containers, module.params["label"], labels, keep)
    managed_before = sorted([summary(i)["name"] for i in plan["remove"]] + [k["name"] for k in plan["kept"]])
    result = dict(
        changed=bool(plan["remove"]),
        removed=[],
        kept=plan["kept"],
        kept_in_use=[dict((k, v) for k, v in kept.items() if k != "in_use")
                     for kept in plan["kept"] if kept["in_use"]],
    )
    if module._diff:
        after = [k["name"] for k in plan["kept"]]
        result["diff"] = dict(
            before="".join(name + "\n" for name in managed_before),
            after="".join(name + "\n" for name in after),
        )

    if module.check_mode:
        result["removed"] = [summary(i) for i in plan["remove"]]
        module.exit_json(**result)

    for image in plan["remove"]:
        try:
            _remove(client, image)
        except APIError as exc:
            result["changed"] = bool(result["removed"])
            module.fail_json(msg="Docker refused to remove %s: %s" % (describe(image), exc), **result)
        result["removed"].append(summary(image))
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
