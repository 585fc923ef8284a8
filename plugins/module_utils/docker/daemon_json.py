# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Merge keys into Docker's daemon.json without dropping the keys of others.

The merge follows JSON Merge Patch (RFC 7396): dicts merge recursively, any other value
(lists included) replaces what was there, and ``None`` (JSON ``null``) removes the key.
All functions here are pure except :func:`read_config` and :func:`write_config`.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile

# The runtime that must never become Docker's default (see the collection's design notes:
# CPU-only tenants would get the NVIDIA hook, and every container depends on the toolkit).
FORBIDDEN_DEFAULT_RUNTIMES = ("nvidia",)


class DaemonJsonError(Exception):
    """A daemon.json that cannot be read or a merge that must not be applied."""


def parse_config(text, path):
    """Parse the text of a daemon.json; an empty or blank file reads as ``{}``.

    Raises DaemonJsonError naming the file and the parse error when the text is not a
    JSON object.
    """
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DaemonJsonError(
            "%s is not valid JSON (%s); refusing to change it. Fix or remove the file and run again."
            % (path, exc))
    if not isinstance(data, dict):
        raise DaemonJsonError(
            "%s holds a JSON %s, not an object; refusing to change it."
            % (path, type(data).__name__))
    return data


def read_config(path):
    """Return (config, text) of the file at path; ({}, None) when it does not exist."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return {}, None
        raise DaemonJsonError("cannot read %s: %s" % (path, exc))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DaemonJsonError("%s is not UTF-8 text (%s); refusing to change it." % (path, exc))
    return parse_config(text, path), text


def merge(current, patch):
    """Return a new dict: patch applied to current as a JSON Merge Patch (RFC 7396)."""
    result = copy.deepcopy(current)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        elif isinstance(value, dict):
            result[key] = merge({}, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def check_patch(patch):
    """Raise DaemonJsonError for a patch this collection must never apply."""
    runtime = patch.get("default-runtime")
    if isinstance(runtime, str) and runtime in FORBIDDEN_DEFAULT_RUNTIMES:
        raise DaemonJsonError(
            "refusing to set default-runtime to %r: every container, CPU-only tenants "
            "included, would run through the NVIDIA hook. Request GPUs per container "
            "(--gpus / device requests) instead." % runtime)
    log_opts = patch.get("log-opts")
    if isinstance(log_opts, dict):
        for key, value in log_opts.items():
            if value is not None and not isinstance(value, str):
                raise DaemonJsonError(
                    "log-opts.%s must be a string (dockerd rejects %s values there); "
                    "quote it, e.g. \"%s\"" % (key, type(value).__name__, value))


def config_warnings(config, path):
    """Return warnings about keys of others that this collection advises against."""
    warnings = []
    runtime = config.get("default-runtime")
    if isinstance(runtime, str) and runtime in FORBIDDEN_DEFAULT_RUNTIMES:
        warnings.append(
            "%s sets default-runtime to %r (not set by this module); CPU-only containers "
            "will run through the NVIDIA hook. Remove it by merging {\"default-runtime\": null}."
            % (path, runtime))
    return warnings


def render(config):
    """Return the text written for config: 2-space indented JSON, keys in their order."""
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def write_config(path, text, mode=0o644, move=None):
    """Write text to path atomically: a temporary file in the same directory, fsynced, then moved
    over the old one by ``move(src, dest)`` (the module's ``atomic_move``, which keeps the old
    file's mode, owner and SELinux context); without ``move``, a rename that keeps mode and owner.
    A new file gets ``mode``.
    """
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    try:
        stat = os.stat(path)
    except OSError:
        stat = None
    fd, tmp = tempfile.mkstemp(prefix=".daemon.json.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        if move is not None:
            move(tmp, path)
        else:
            if stat is not None:
                os.chmod(tmp, stat.st_mode & 0o7777)
                os.chown(tmp, stat.st_uid, stat.st_gid)
            os.rename(tmp, path)
        if stat is None:
            os.chmod(path, mode)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def plan(path, patch):
    """Read path once and return a dict describing the merge.

    Keys: before (dict), after (dict), before_text (str or None), after_text (str),
    changed (bool), warnings (list of str). Raises DaemonJsonError.
    """
    check_patch(patch)
    before, before_text = read_config(path)
    after = merge(before, patch)
    changed = before_text is None or after != before
    return {
        "before": before,
        "after": after,
        "before_text": before_text,
        "after_text": render(after),
        "changed": changed,
        "warnings": config_warnings(after, path),
    }
