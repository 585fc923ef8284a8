# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tenant spec: validate the module's parameters into a TenantSpec, before anything changes.

Every rejection is a SpecError whose message names the field and the offending value.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import binascii
import hashlib
import ipaddress
import os
import re
import struct
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.sizes import SizeError, parse_size

# Docker refuses memory limits under 6 MiB.
MIN_MEMORY = 6 * 1024 * 1024
DEFAULT_DATA_BASE = "/var/lib/gpulab/tenants"
DEFAULT_PORT_RANGE = "2200-2999"
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LABEL_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
# Environment the module itself owns: a tenant must not be able to widen its GPU view.
RESERVED_ENV = ("NVIDIA_VISIBLE_DEVICES", "GPULAB_SSH_AUTHORIZED_KEYS")
RESERVED_LABEL_PREFIX = "gpulab."
KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
REPLACED_SUFFIX = ".gpulab-replaced"


class SpecError(ValueError):
    """Bad input, found before anything changes. `field` and `value` say what was wrong."""

    def __init__(self, field, value, reason):
        # type: (str, Any, str) -> None
        self.field = field
        self.value = value
        self.reason = reason
        super(SpecError, self).__init__("%s: %r %s" % (field, value, reason))


class SshKey(object):
    """One validated public key: its text (type, base64, comment) and SHA256 fingerprint."""

    def __init__(self, text, key_type, fingerprint, comment):
        # type: (str, str, str, str) -> None
        self.text = text
        self.key_type = key_type
        self.fingerprint = fingerprint
        self.comment = comment


class TenantSpec(object):
    """A validated tenant request; sizes in bytes, paths normalised."""

    def __init__(self, **kw):
        # type: (**Any) -> None
        self.name = kw["name"]  # type: str
        self.state = kw["state"]  # type: str
        self.image = kw.get("image")  # type: Optional[str]
        self.gpus = kw.get("gpus", 0)  # type: int
        self.cpus = kw.get("cpus", 0)  # type: int
        self.memory = kw.get("memory")  # type: Optional[int]
        self.disk = kw.get("disk")  # type: Optional[int]
        self.disk_enforcement = kw.get("disk_enforcement", True)  # type: bool
        self.ssh_keys = kw.get("ssh_keys", [])  # type: List[SshKey]
        self.ssh_port = kw.get("ssh_port")  # type: Optional[int]
        self.ssh_port_range = kw.get("ssh_port_range", (2200, 2999))  # type: Tuple[int, int]
        self.ssh_bind_address = kw.get("ssh_bind_address", "0.0.0.0")  # type: str
        self.data_dir = kw["data_dir"]  # type: str
        self.data_dir_given = kw.get("data_dir_given", False)  # type: bool
        self.data_mount = kw.get("data_mount", "/data")  # type: str
        self.numa_policy = kw.get("numa_policy", "strict")  # type: str
        self.env = kw.get("env", {})  # type: Dict[str, str]
        self.labels = kw.get("labels", {})  # type: Dict[str, str]
        self.pids_limit = kw.get("pids_limit", 16384)  # type: int
        self.network = kw.get("network", "bridge")  # type: str
        self.purge = kw.get("purge", False)  # type: bool
        self.archive_to = kw.get("archive_to")  # type: Optional[str]


def parse_ssh_key(text, field="ssh_public_keys"):
    # type: (Any, str) -> SshKey
    """Check an OpenSSH public key line: known type, base64 blob that names the same type."""
    if not isinstance(text, str):
        raise SpecError(field, text, "is not a public key line (text)")
    line = text.strip()
    if "\n" in line or "\r" in line:
        raise SpecError(field, text, "holds more than one line; give one key per list item")
    parts = line.split(None, 2)
    if len(parts) < 2:
        raise SpecError(field, text, "is not an OpenSSH public key ('<type> <base64> [comment]')")
    key_type, blob_text = parts[0], parts[1]
    if key_type not in KEY_TYPES:
        raise SpecError(field, text, "has an unknown key type %r (known: %s; options before the key "
                        "type are not supported)" % (key_type, ", ".join(KEY_TYPES)))
    try:
        blob = base64.b64decode(blob_text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise SpecError(field, text, "has a key body that is not base64")
    if len(blob) < 4:
        raise SpecError(field, text, "has a truncated key body")
    (name_len,) = struct.unpack(">I", blob[:4])
    if blob[4:4 + name_len] != key_type.encode("ascii") or len(blob) <= 4 + name_len:
        raise SpecError(field, text, "has a key body that does not match its type %r" % key_type)
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    comment = parts[2] if len(parts) > 2 else ""
    return SshKey(" ".join(parts), key_type, "SHA256:" + digest, comment)


def parse_port_range(text, field="ssh_port_range"):
    # type: (Any, str) -> Tuple[int, int]
    match = re.match(r"^\s*(\d+)\s*-\s*(\d+)\s*$", str(text))
    if not match:
        raise SpecError(field, text, "is not a port range like 2200-2999")
    low, high = int(match.group(1)), int(match.group(2))
    if not 1 <= low <= high <= 65535:
        raise SpecError(field, text, "must run upwards within 1-65535")
    return low, high


def _check_path(field, value):
    # type: (str, Any) -> str
    if not isinstance(value, str) or not value.startswith("/"):
        raise SpecError(field, value, "is not an absolute path")
    if any(ch.isspace() for ch in value) or ".." in value.split("/"):
        raise SpecError(field, value, "must not hold whitespace or '..'")
    norm = os.path.normpath(value)
    if norm == "/":
        raise SpecError(field, value, "must not be the root directory")
    return norm


def _check_count(field, value):
    # type: (str, Any) -> int
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(field, value, "is not a whole number")
    if value < 0:
        raise SpecError(field, value, "is negative; counts are >= 0")
    return value


def _check_str_map(field, value, key_re):
    # type: (str, Any, Any) -> Dict[str, str]
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(field, value, "is not a mapping")
    out = {}  # type: Dict[str, str]
    for key, item in value.items():
        if not isinstance(key, str) or not key_re.match(key):
            raise SpecError(field, key, "is not a valid key")
        if isinstance(item, (dict, list)) or item is None:
            raise SpecError("%s.%s" % (field, key), item, "must be a plain value")
        if isinstance(item, bool):
            item = "true" if item else "false"
        out[key] = str(item)
    return out


def validate_spec(params):
    # type: (Dict[str, Any]) -> TenantSpec
    """Validate module parameters (as AnsibleModule hands them over) into a TenantSpec."""
    name = params.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name) or name.endswith(REPLACED_SUFFIX):
        raise SpecError("name", name, "is not a valid tenant name (letters, digits, '_', '.', '-'; "
                        "starts with a letter or digit; at most 63 characters)")
    state = params.get("state") or "present"
    data_dir = _check_path("data_root", params.get("data_root") or "%s/%s" % (DEFAULT_DATA_BASE, name))
    spec = {"name": name, "state": state, "data_dir": data_dir,
            "data_dir_given": params.get("data_root") is not None,
            "purge": bool(params.get("purge")), "archive_to": None}  # type: Dict[str, Any]
    if params.get("archive_to") is not None:
        spec["archive_to"] = _check_path("archive_to", params["archive_to"])
        if not spec["purge"]:
            raise SpecError("archive_to", params["archive_to"], "only applies with purge: true")
    if state == "absent":
        return TenantSpec(**spec)

    image = params.get("image")
    if not isinstance(image, str) or not image.strip() or any(ch.isspace() for ch in image):
        raise SpecError("image", image, "is not an image reference (e.g. gpulab/cuda12.4-ubuntu22.04:latest)")
    spec["image"] = image
    spec["gpus"] = _check_count("gpus", params.get("gpus", 0) if params.get("gpus") is not None else 0)
    spec["cpus"] = _check_count("cpus", params.get("cpus"))
    try:
        memory = parse_size(params.get("memory"), "memory")
    except SizeError as exc:
        raise SpecError("memory", params.get("memory"), exc.reason)
    if memory < MIN_MEMORY:
        raise SpecError("memory", params.get("memory"), "is below Docker's minimum of 6M")
    spec["memory"] = memory
    if params.get("disk") not in (None, ""):
        try:
            disk = parse_size(params["disk"], "disk")
        except SizeError as exc:
            raise SpecError("disk", params["disk"], exc.reason)
        if disk <= 0:
            raise SpecError("disk", params["disk"], "must be more than 0 (leave it out for no limit)")
        spec["disk"] = disk
    spec["disk_enforcement"] = params.get("disk_enforcement", True) is not False
    keys = params.get("ssh_public_keys") or []
    if not isinstance(keys, list) or not keys:
        raise SpecError("ssh_public_keys", params.get("ssh_public_keys"),
                        "must list at least one OpenSSH public key")
    spec["ssh_keys"] = [parse_ssh_key(k) for k in keys]
    port = params.get("ssh_port")
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise SpecError("ssh_port", port, "is not a TCP port (1-65535)")
        spec["ssh_port"] = port
    spec["ssh_port_range"] = parse_port_range(params.get("ssh_port_range") or DEFAULT_PORT_RANGE)
    bind = params.get("ssh_bind_address") or "0.0.0.0"
    try:
        spec["ssh_bind_address"] = str(ipaddress.ip_address(bind))
    except ValueError:
        raise SpecError("ssh_bind_address", bind, "is not an IP address")
    mount = params.get("data_mount") or "/data"
    spec["data_mount"] = _check_path("data_mount", mount)
    policy = params.get("numa_policy") or "strict"
    if policy not in ("strict", "best-effort"):
        raise SpecError("numa_policy", policy, "is not one of strict, best-effort")
    spec["numa_policy"] = policy
    env = _check_str_map("env", params.get("env"), ENV_NAME_RE)
    for key in env:
        if key in RESERVED_ENV or key.startswith("GPULAB_"):
            raise SpecError("env", key, "is set by the tenant module itself and cannot be overridden")
    spec["env"] = env
    labels = _check_str_map("labels", params.get("labels"), LABEL_KEY_RE)
    for key in labels:
        if key.startswith(RESERVED_LABEL_PREFIX):
            raise SpecError("labels", key, "uses the reserved prefix 'gpulab.'")
    spec["labels"] = labels
    pids = params.get("pids_limit", 16384)
    if isinstance(pids, bool) or not isinstance(pids, int) or pids < 1:
        raise SpecError("pids_limit", pids, "must be a whole number >= 1")
    spec["pids_limit"] = pids
    network = params.get("network") or "bridge"
    if not isinstance(network, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", network) or network in ("none", "host"):
        raise SpecError("network", network, "is not a Docker bridge network name (host and none cannot publish SSH)")
    spec["network"] = network
    return TenantSpec(**spec)
