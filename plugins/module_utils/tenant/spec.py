# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tenant spec: validate the module's parameters into a TenantSpec, before anything changes.

Every rejection is a SpecError whose message names the field and the offending value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import os
import re
import struct
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.common.errors import FieldError
from ansible_collections.gpulab.dgx.plugins.module_utils.common.paths import inside
from ansible_collections.gpulab.dgx.plugins.module_utils.common.sizes import SizeError, format_size, parse_size
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.gpu_request import check_mig, check_share

# Docker refuses memory limits under 6 MiB.
MIN_MEMORY = 6 * 1024 * 1024
DEFAULT_DATA_BASE = "/var/lib/gpulab/tenants"
DEFAULT_PORT_RANGE = "2200-2999"
# Patterns are matched with fullmatch: `$` would let a trailing newline through.
NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{1,62}")  # Docker wants 2 characters or more
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")  # POSIX names only
LABEL_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")
IMAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,510}")
NETWORK_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
# C0 controls but TAB, and DEL: NUL, CR and LF break Docker's and runc's parsing, the rest the logs.
CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Docker splits bind specs on ':' and mount options on ','.
PATH_RE = re.compile(r"/[^:,\x00-\x1f\x7f]*")
MAX_PIDS = 4194304  # the kernel's PID_MAX_LIMIT
MIB = 1024 * 1024
# /dev/shm by default: half the memory up to 1 GiB, a quarter of it beyond (Docker's own is 64 MiB,
# too small for PyTorch DataLoader workers and NCCL). It counts against the memory limit.
SHM_CAP = 1024 * MIB
# The limits Docker can set (`docker run --ulimit NAME=SOFT[:HARD]`); -1 is unlimited.
ULIMIT_NAMES = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
                "rtprio", "rttime", "sigpending", "stack")
# As NVIDIA runs its framework containers: memlock unlimited (RDMA/GPUDirect registration), 64 MiB stack.
DEFAULT_ULIMITS = (("memlock", -1), ("stack", 67108864))
ULIMIT_RE = re.compile(r"(-?[0-9]{1,20})(?::(-?[0-9]{1,20}))?")
MAX_RLIMIT = 2 ** 63 - 1  # Docker records limits as int64
MAX_LOCK_TIMEOUT = 86400
# Where a tenant's data must not appear inside its container.
CONTAINER_SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run",
                          "/sbin", "/sys", "/usr")
CONTAINER_SYSTEM_DIRS = ("/", "/var", "/tmp", "/root", "/home")
# Environment the module itself owns: a tenant must not be able to widen its GPU view.
# What the NVIDIA runtime reads to choose a container's devices (and MIG rights), and the keys: the module's alone.
RESERVED_ENV = ("NVIDIA_VISIBLE_DEVICES", "NVIDIA_MIG_CONFIG_DEVICES", "NVIDIA_MIG_MONITOR_DEVICES",
                "GPULAB_SSH_AUTHORIZED_KEYS")
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


class SpecError(FieldError):
    """Bad input, found before anything changes. `field` and `value` say what was wrong."""


class SshKey(object):
    """One validated public key: its text (type, base64, comment) and SHA256 fingerprint."""

    def __init__(self, text: str, key_type: str, fingerprint: str, comment: str) -> None:
        self.text = text
        self.key_type = key_type
        self.fingerprint = fingerprint
        self.comment = comment


class TenantSpec(object):
    """A validated tenant request; sizes in bytes, paths normalised."""

    def __init__(self, **kw: Any) -> None:
        self.name: str = kw["name"]
        self.state: str = kw["state"]
        self.image: Optional[str] = kw.get("image")
        self.gpus: int = kw.get("gpus", 0)
        self.mig: Optional[Tuple[str, int]] = kw.get("mig")  # (profile, count): MIG instances instead of GPUs
        self.gpu_share: Optional[Tuple[int, str]] = kw.get("gpu_share")  # (GPU count, mode): shared GPUs
        self.cpus: int = kw.get("cpus", 0)
        self.memory: Optional[int] = kw.get("memory")
        self.disk: Optional[int] = kw.get("disk")
        self.disk_enforcement: bool = kw.get("disk_enforcement", True)
        self.ssh_keys: List[SshKey] = kw.get("ssh_keys", [])
        self.ssh_port: Optional[int] = kw.get("ssh_port")
        self.ssh_port_range: Tuple[int, int] = kw.get("ssh_port_range", (2200, 2999))
        self.ssh_bind_address: str = kw.get("ssh_bind_address", "0.0.0.0")
        self.data_base: str = kw["data_base"]
        self.data_dir: str = kw["data_dir"]
        self.lock_path: str = kw.get("lock_path", "/run/lock/gpulab-tenant.lock")
        self.lock_timeout: float = kw.get("lock_timeout", 300)
        self.data_mount: str = kw.get("data_mount", "/data")
        self.numa_policy: str = kw.get("numa_policy", "strict")
        self.env: Dict[str, str] = kw.get("env", {})
        self.labels: Dict[str, str] = kw.get("labels", {})
        self.pids_limit: int = kw.get("pids_limit", 16384)
        self.shm_size: Optional[int] = kw.get("shm_size")
        self.ulimits: Dict[str, Tuple[int, int]] = kw.get("ulimits", default_ulimits())
        self.network: str = kw.get("network", "bridge")
        self.purge: bool = kw.get("purge", False)
        self.archive_to: Optional[str] = kw.get("archive_to")


PRIVATE_KEY_MARKERS = ("PRIVATE KEY", "PuTTY-User-Key-File", "BEGIN SSH2 ENCRYPTED", "OPENSSH PRIVATE")


def _key_kind(text: str) -> Optional[str]:
    """The kind of secret `text` holds, when it looks like a private key."""
    for marker in PRIVATE_KEY_MARKERS:
        if marker in text:
            return "a PuTTY private key" if "PuTTY" in marker else "an OpenSSH private key"
    return None


def parse_ssh_key(text: Any, field: str = "ssh_public_keys") -> SshKey:
    """Check an OpenSSH public key line: known type, base64 blob that names the same type.

    A refused key is never repeated back (a pasted private key would land in Ansible's output and
    logs): the message names its position (`field`, e.g. ssh_public_keys[1]) and what is wrong.
    """
    if not isinstance(text, str):
        raise SpecError(field, "<%s>" % type(text).__name__, "is not a public key line (text)")
    hidden = "<%d characters, not shown>" % len(text)
    kind = _key_kind(text)
    if kind:
        raise SpecError(field, hidden, "is %s; give the public key (the .pub line) instead, and treat "
                        "the private key as exposed" % kind)
    line = text.strip()
    if "\n" in line or "\r" in line:
        raise SpecError(field, hidden, "holds more than one line; give one key per list item")
    if CONTROL_RE.search(line):
        raise SpecError(field, hidden, "holds control characters")
    parts = line.split(None, 2)
    if len(parts) < 2:
        raise SpecError(field, hidden, "is not an OpenSSH public key ('<type> <base64> [comment]')")
    key_type, blob_text = parts[0], parts[1]
    if key_type not in KEY_TYPES:
        shown = key_type if len(key_type) <= 40 and key_type.isprintable() else "<not shown>"
        raise SpecError(field, hidden, "has an unknown key type %r (known: %s; options before the key "
                        "type are not supported)" % (shown, ", ".join(KEY_TYPES)))
    try:
        blob = base64.b64decode(blob_text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise SpecError(field, hidden, "has a %s key body that is not base64" % key_type)
    if len(blob) < 4:
        raise SpecError(field, hidden, "has a truncated %s key body" % key_type)
    (name_len,) = struct.unpack(">I", blob[:4])
    if blob[4:4 + name_len] != key_type.encode("ascii") or len(blob) <= 4 + name_len:
        raise SpecError(field, hidden, "has a key body that does not match its type %r" % key_type)
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    comment = parts[2] if len(parts) > 2 else ""
    return SshKey(" ".join(parts), key_type, "SHA256:" + digest, comment)


def parse_port_range(text: Any, field: str = "ssh_port_range") -> Tuple[int, int]:
    match = re.fullmatch(r" *([0-9]{1,5}) *- *([0-9]{1,5}) *", str(text))
    if not match:
        raise SpecError(field, text, "is not a port range like 2200-2999")
    low, high = int(match.group(1)), int(match.group(2))
    if not 1 <= low <= high <= 65535:
        raise SpecError(field, text, "must run upwards within 1-65535")
    return low, high


def check_text(field: str, value: Any) -> str:
    """A string that reaches Docker: text without control characters."""
    if not isinstance(value, str):
        raise SpecError(field, value, "is not text")
    if CONTROL_RE.search(value):
        raise SpecError(field, value, "holds control characters (NUL, CR, LF, ...)")
    return value


def check_path(field: str, value: Any) -> str:
    """An absolute, normalised path Docker can take in a bind spec (no ':' or ',')."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise SpecError(field, value, "is not an absolute path")
    check_text(field, value)
    if not PATH_RE.fullmatch(value):
        raise SpecError(field, value, "must not hold ':' or ','")
    if any(ch.isspace() for ch in value) or ".." in value.split("/") or "." in value.split("/"):
        raise SpecError(field, value, "must not hold whitespace, '.' or '..'")
    norm = os.path.normpath(value)
    if norm == "/":
        raise SpecError(field, value, "must not be the root directory")
    return norm


def _check_data_mount(value: Any) -> str:
    mount = check_path("data_mount", value)
    for tree in CONTAINER_SYSTEM_TREES:
        if inside(mount, tree):
            raise SpecError("data_mount", value, "is or lies inside %s, which the container's system needs" % tree)
    if mount in CONTAINER_SYSTEM_DIRS:
        raise SpecError("data_mount", value, "would hide the container's own %s" % mount)
    return mount


def _check_count(field: str, value: Any, most: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(field, value, "is not a whole number")
    if value < 0:
        raise SpecError(field, value, "is negative; counts are >= 0")
    if most is not None and value > most:
        raise SpecError(field, value, "is more than %d" % most)
    return value


def _check_str_map(field: str, value: Any, key_re: Any) -> Dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(field, value, "is not a mapping")
    out: Dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key_re.fullmatch(key):
            raise SpecError(field, key, "is not a valid key")
        if isinstance(item, (dict, list)) or item is None:
            raise SpecError("%s.%s" % (field, key), item, "must be a plain value")
        if isinstance(item, bool):
            item = "true" if item else "false"
        out[key] = check_text("%s.%s" % (field, key), str(item))
    return out


def default_shm_size(memory: int) -> int:
    """/dev/shm for a memory limit: max(memory / 4, min(1 GiB, memory / 2)), in whole MiB."""
    size = max(memory // 4, min(SHM_CAP, memory // 2))
    return size // MIB * MIB


def _check_shm_size(value: Any, memory: int) -> int:
    if value is None or value == "":
        return default_shm_size(memory)
    if isinstance(value, str):
        check_text("shm_size", value)
    try:
        size = parse_size(value, "shm_size")
    except SizeError as exc:
        raise SpecError("shm_size", value, exc.reason)
    if size <= 0:
        raise SpecError("shm_size", value, "must be more than 0 (leave it out for the default)")
    if size > memory:
        raise SpecError("shm_size", value, "is more than memory %s; /dev/shm counts against the container's "
                        "memory limit" % format_size(memory))
    return size


def default_ulimits() -> Dict[str, Tuple[int, int]]:
    return dict((name, (value, value)) for name, value in DEFAULT_ULIMITS)


def _parse_ulimit(field: str, value: Any) -> Tuple[int, int]:
    """A limit as (soft, hard): a whole number for both, or 'soft:hard'; -1 is unlimited."""
    if isinstance(value, int) and not isinstance(value, bool):
        soft = hard = value
    else:
        match = ULIMIT_RE.fullmatch(value) if isinstance(value, str) else None
        if not match:
            raise SpecError(field, value, "is not a limit (a whole number, or 'soft:hard'; -1 is unlimited)")
        soft = int(match.group(1))
        hard = soft if match.group(2) is None else int(match.group(2))
    if not (-1 <= soft <= MAX_RLIMIT and -1 <= hard <= MAX_RLIMIT):
        raise SpecError(field, value, "must be from -1 (unlimited) to %d" % MAX_RLIMIT)
    if hard != -1 and (soft == -1 or soft > hard):
        raise SpecError(field, value, "has a soft limit above its hard limit")
    return soft, hard


def _check_ulimits(value: Any) -> Dict[str, Tuple[int, int]]:
    """The default limits, with those `value` names replaced."""
    limits = default_ulimits()
    if value is None:
        return limits
    if not isinstance(value, dict):
        raise SpecError("ulimits", value, "is not a mapping of limit name to value")
    for name, item in value.items():
        if name not in ULIMIT_NAMES:
            raise SpecError("ulimits", name, "is not a limit Docker sets (%s)" % ", ".join(ULIMIT_NAMES))
        limits[name] = _parse_ulimit("ulimits.%s" % name, item)
    return limits


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name.endswith(REPLACED_SUFFIX):
        raise SpecError("name", name, "is not a valid tenant name (letters, digits, '_', '.', '-'; "
                        "starts with a letter or digit; 2 to 63 characters)")
    return name


def _check_lock(params: Dict[str, Any]) -> Tuple[str, float]:
    path = check_path("lock_path", params.get("lock_path") or "/run/lock/gpulab-tenant.lock")
    timeout = params.get("lock_timeout")
    timeout = 300 if timeout is None else timeout
    _check_count("lock_timeout", timeout, MAX_LOCK_TIMEOUT)
    return path, timeout


def _check_removal(params: Dict[str, Any], spec: Dict[str, Any]) -> None:
    if params.get("archive_to") is not None:
        spec["archive_to"] = check_path("archive_to", params["archive_to"])
        if not spec["purge"]:
            raise SpecError("archive_to", params["archive_to"], "only applies with purge: true")
        if spec["archive_to"] == spec["data_base"] or spec["archive_to"].startswith(spec["data_base"] + "/"):
            raise SpecError("archive_to", params["archive_to"], "lies inside data_base %s; archives must be "
                            "kept apart from tenant data" % spec["data_base"])


def validate_spec(params: Dict[str, Any]) -> TenantSpec:
    """Validate module parameters (as AnsibleModule hands them over) into a TenantSpec.

    Syntax only: what needs the host (symlinks, other tenants, Docker) is checked by tenant_apply,
    still before anything changes."""
    name = _check_name(params.get("name"))
    state = params.get("state") or "present"
    base = check_path("data_base", params.get("data_base") or DEFAULT_DATA_BASE)
    if params.get("data_root") is not None and check_path("data_root", params["data_root"]) != base + "/" + name:
        raise SpecError("data_root", params["data_root"], "is not %s/%s: a tenant's data lives only in "
                        "<data_base>/<name>; set data_base instead" % (base, name))
    lock_path, lock_timeout = _check_lock(params)
    spec: Dict[str, Any] = {"name": name, "state": state, "data_base": base, "data_dir": base + "/" + name,
                            "lock_path": lock_path, "lock_timeout": lock_timeout,
                            "purge": bool(params.get("purge")), "archive_to": None}
    _check_removal(params, spec)
    if params.get("docker_host") is not None:
        check_text("docker_host", params["docker_host"])
    if state == "absent":
        return TenantSpec(**spec)

    image = params.get("image")
    if not isinstance(image, str) or not IMAGE_RE.fullmatch(image):
        raise SpecError("image", image, "is not an image reference (e.g. gpulab/cuda12.4-ubuntu22.04:latest)")
    spec["image"] = image
    spec["gpus"] = _check_count("gpus", params.get("gpus", 0) if params.get("gpus") is not None else 0)
    try:
        spec["mig"] = check_mig(params.get("mig"), spec["gpus"])
        spec["gpu_share"] = check_share(params.get("gpu_share"), spec["gpus"], spec["mig"])
    except FieldError as exc:
        raise SpecError(exc.field, exc.value, exc.reason)
    spec["cpus"] = _check_count("cpus", params.get("cpus"))
    try:
        memory = parse_size(params.get("memory"), "memory")
    except SizeError as exc:
        raise SpecError("memory", params.get("memory"), exc.reason)
    if memory < MIN_MEMORY:
        raise SpecError("memory", params.get("memory"), "is below Docker's minimum of 6M")
    if memory >= 2 ** 63:
        raise SpecError("memory", params.get("memory"), "is beyond what Docker can record")
    spec["memory"] = memory
    spec["shm_size"] = _check_shm_size(params.get("shm_size"), memory)
    spec["ulimits"] = _check_ulimits(params.get("ulimits"))
    if params.get("disk") not in (None, ""):
        try:
            disk = parse_size(params["disk"], "disk")
        except SizeError as exc:
            raise SpecError("disk", params["disk"], exc.reason)
        if disk <= 0:
            raise SpecError("disk", params["disk"], "must be more than 0 (leave it out for no limit)")
        if disk >= 2 ** 63:
            raise SpecError("disk", params["disk"], "is beyond what a filesystem can hold")
        spec["disk"] = disk
    spec["disk_enforcement"] = params.get("disk_enforcement", True) is not False
    keys = params.get("ssh_public_keys") or []
    if not isinstance(keys, list) or not keys:
        raise SpecError("ssh_public_keys", "<%d given>" % len(keys) if isinstance(keys, list) else "<not a list>",
                        "must list at least one OpenSSH public key")
    spec["ssh_keys"] = [parse_ssh_key(k, "ssh_public_keys[%d]" % i) for i, k in enumerate(keys)]
    port = params.get("ssh_port")
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise SpecError("ssh_port", port, "is not a TCP port (1-65535)")
        spec["ssh_port"] = port
    spec["ssh_port_range"] = parse_port_range(params.get("ssh_port_range") or DEFAULT_PORT_RANGE)
    bind = check_text("ssh_bind_address", params.get("ssh_bind_address") or "0.0.0.0")
    try:
        if "%" in bind:
            raise ValueError(bind)
        spec["ssh_bind_address"] = str(ipaddress.ip_address(bind))
    except ValueError:
        raise SpecError("ssh_bind_address", bind, "is not an IP address")
    spec["data_mount"] = _check_data_mount(params.get("data_mount") or "/data")
    policy = params.get("numa_policy") or "strict"
    if policy not in ("strict", "best-effort"):
        raise SpecError("numa_policy", policy, "is not one of strict, best-effort")
    spec["numa_policy"] = policy
    env = _check_str_map("env", params.get("env"), ENV_NAME_RE)
    for key in env:
        if key in RESERVED_ENV or key.startswith("GPULAB_"):
            raise SpecError("env", key, "is the tenant module's alone (the NVIDIA runtime chooses a tenant's devices "
                            "from it) and cannot be set")
    spec["env"] = env
    labels = _check_str_map("labels", params.get("labels"), LABEL_KEY_RE)
    for key in labels:
        if key.startswith(RESERVED_LABEL_PREFIX):
            raise SpecError("labels", key, "uses the reserved prefix 'gpulab.'")
    spec["labels"] = labels
    pids = params.get("pids_limit", 16384)
    if isinstance(pids, bool) or not isinstance(pids, int) or not 1 <= pids <= MAX_PIDS:
        raise SpecError("pids_limit", pids, "must be a whole number from 1 to %d" % MAX_PIDS)
    spec["pids_limit"] = pids
    network = params.get("network") or "bridge"
    if not isinstance(network, str) or not NETWORK_RE.fullmatch(network) or network in ("none", "host"):
        raise SpecError("network", network, "is not a Docker bridge network name (host and none cannot publish SSH)")
    spec["network"] = network
    return TenantSpec(**spec)
