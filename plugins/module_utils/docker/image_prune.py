# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plan which tenant images to remove, and in which order, without touching Docker.

The plan is a pure function of what the Docker engine reports, so it can be tested alone:

* managed images: top-level images carrying the marker label (value ``true``) and every
  extra selector label;
* the image graph: each image's parent (``ParentId`` from the legacy builder) plus the
  ``gpulab.base-id`` label our Dockerfiles record (BuildKit leaves ``ParentId`` empty);
* containers: every container, running or not, with the image it was created from.

A managed image is kept when a container uses it or an image derived from it, when it is in
the keep list, or when another image that stays is derived from it (Docker refuses to delete a
base under a child anyway). The rest is removed children first: an image always has more
ancestors than its base, so ordering by ancestor count, descending, removes derived images
before the images they were built from.
"""

from __future__ import annotations

BASE_ID_LABEL = "gpulab.base-id"


def _short(image_id):
    """Return the 12-hex-digit form of an image id, as ``docker images`` prints it."""
    return image_id.split(":", 1)[-1][:12]


def _tags(image):
    return sorted(t for t in (image.get("RepoTags") or []) if t and t != "<none>:<none>")


def describe(image):
    """Human-readable name of an image: its tags, or its short id when it has none."""
    tags = _tags(image)
    return ", ".join(tags) if tags else _short(image.get("Id", ""))


def is_managed(image, marker_label, labels):
    """True when the image carries ``marker_label=true`` and every selector in ``labels``."""
    have = image.get("Labels") or {}
    if str(have.get(marker_label, "")).lower() != "true":
        return False
    for key, value in (labels or {}).items():
        if key not in have or have[key] != str(value):
            return False
    return True


class ImageGraph(object):
    """Parent links between images: ParentId and the recorded base-id label."""

    def __init__(self, images):
        self.images = {}
        self.parents = {}
        for image in images:
            image_id = image.get("Id")
            if not image_id:
                continue
            self.images[image_id] = image
            parents = set()
            parent = image.get("ParentId") or ""
            if parent:
                parents.add(parent)
            base = (image.get("Labels") or {}).get(BASE_ID_LABEL) or ""
            if base and base != image_id:
                parents.add(base)
            self.parents[image_id] = parents
        self._ancestors = {}

    def ancestors(self, image_id):
        """Every image ``image_id`` is built on (transitively), without itself."""
        if image_id in self._ancestors:
            return self._ancestors[image_id]
        seen = set()
        todo = list(self.parents.get(image_id, ()))
        while todo:
            current = todo.pop()
            if current in seen or current == image_id:
                continue
            seen.add(current)
            todo.extend(self.parents.get(current, ()))
        self._ancestors[image_id] = frozenset(seen)
        return self._ancestors[image_id]


def _container_name(container):
    names = container.get("Names") or []
    if names:
        return names[0].lstrip("/")
    return _short(container.get("Id", ""))


def plan_prune(all_images, top_level_images, containers, marker_label, labels=None, keep=None):
    """Decide what to remove and what to keep.

    ``all_images``: ``docker images --all`` (intermediate layers included) as the engine API
    returns them (``Id``, ``ParentId``, ``RepoTags``, ``Labels``).
    ``top_level_images``: ``docker images`` (no intermediates), same shape.
    ``containers``: ``docker ps --all`` (``Id``, ``Names``, ``ImageID``).
    ``keep``: image ids never to remove.

    Returns ``{"remove": [image...], "kept": [{"id", "name", "tags", "reason", "in_use"}...]}``
    with ``remove`` ordered children before parents; ``in_use`` tells the images a container
    needs (its own image or one under it) from those kept for another reason.
    """
    graph = ImageGraph(list(all_images) + list(top_level_images))
    keep = set(keep or ())
    managed = {}
    for image in top_level_images:
        if is_managed(image, marker_label, labels):
            managed[image["Id"]] = image

    reasons = {}

    in_use = set()

    def hold(image_id, reason, used=False):
        if image_id in managed and image_id not in reasons:
            reasons[image_id] = reason
            if used:
                in_use.add(image_id)

    # In use: a container's own image and everything under it.
    for container in sorted(containers, key=_container_name):
        image_id = container.get("ImageID") or ""
        if not image_id:
            continue
        name = _container_name(container)
        hold(image_id, "used by container %s" % name, used=True)
        for ancestor in graph.ancestors(image_id):
            hold(ancestor, "base of %s, used by container %s"
                 % (describe(graph.images.get(image_id, {"Id": image_id})), name), used=True)

    for image_id in sorted(keep & set(managed)):
        hold(image_id, "in the keep list")

    # Images that stay (kept, or not ours) pin their bases; repeat until nothing changes.
    changed = True
    while changed:
        changed = False
        for image in sorted(top_level_images, key=lambda i: i.get("Id", "")):
            image_id = image.get("Id", "")
            if image_id in managed and image_id not in reasons:
                continue
            for ancestor in graph.ancestors(image_id):
                if ancestor in managed and ancestor not in reasons:
                    hold(ancestor, "base of %s, which stays" % describe(image))
                    changed = True

    remove = [managed[i] for i in managed if i not in reasons]
    remove.sort(key=lambda i: (-len(graph.ancestors(i["Id"])), describe(i), i["Id"]))
    kept = [
        {"id": i, "name": describe(managed[i]), "tags": _tags(managed[i]), "reason": reasons[i],
         "in_use": i in in_use}
        for i in sorted(reasons, key=lambda i: (describe(managed[i]), i))
    ]
    return {"remove": remove, "kept": kept}


def summary(image):
    """The JSON-able form of an image in results: id, name, tags."""
    return {"id": image["Id"], "name": describe(image), "tags": _tags(image)}
