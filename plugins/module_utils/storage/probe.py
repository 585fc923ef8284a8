# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only inspection of block devices for the docker_storage role.

The parsers and the descriptions (``parse_*``, ``describe_*``, ``device_ready``, ...) are pure
functions of the tools' output. The ``inspect_*`` functions run the tools through a
:class:`Host` (the module's ``run_command``/``get_bin_path``, or a double in tests) and never
change anything: ``blkid -p``, ``lsblk``, ``mdadm --detail``, ``findmnt`` and ``xfs_info``
only read.

The human descriptions are the ones the role's refusal messages have always shown, e.g.
``linux_raid_member (array UUID X)``, ``xfs filesystem with ftype=0 (UUID X)``,
``gpt partition table``, ``partition /dev/sdb1 (ext4)``, ``mounted at /mnt``.
"""

from __future__ import annotations

import json
import os
import re
import stat
from typing import Any, Dict, List, Optional, Tuple

# blkid exits 2 when it finds no signature at all (a blank device): not an error.
BLKID_OK_RC = (0, 2)
FTYPE_RE = re.compile(r"ftype=([01])")
MD_MEMBER_RE = re.compile(r"^MD_DEVICE_.*_DEV=")


class StorageProbeError(Exception):
    """A tool that must work failed (blkid with an unexpected status, lsblk, ...)."""


# ---- pure parsers -----------------------------------------------------------------------------

def parse_export(text: str) -> Dict[str, str]:
    """Parse KEY=VALUE lines (``blkid -o export``, ``mdadm --detail --export``).

    Lines without ``=`` are ignored; a value keeps everything after the first ``=``.
    Empty output (blkid's rc 2: no signature) gives ``{}``.
    """
    result: Dict[str, str] = {}
    for line in text.splitlines():
        if "=" not in line:
            continue
        key, value = line.split("=", 1)
        result[key] = value
    return result


def parse_md_members(text: str) -> List[str]:
    """Return the member devices of ``mdadm --detail --export`` (``MD_DEVICE_*_DEV=`` values),
    in the order mdadm lists them."""
    return [MD_MEMBER_RE.sub("", line, count=1)
            for line in text.splitlines() if MD_MEMBER_RE.match(line)]


def parse_lsblk_tree(text: str) -> Dict[str, Any]:
    """Return the first device of ``lsblk --json`` output (with its ``children``), or ``{}``.

    Raises StorageProbeError when the text is not lsblk's JSON.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StorageProbeError("cannot parse lsblk --json output (%s): %r" % (exc, text[:200]))
    devices = data.get("blockdevices") if isinstance(data, dict) else None
    if not devices:
        return {}
    return devices[0]


def tree_children(tree: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The direct children (partitions, holders) of an lsblk device."""
    return list(tree.get("children") or [])


def parse_xfs_ftype(text: str) -> Optional[int]:
    """The ``ftype=`` value of ``xfs_info`` output, or None when it is not there."""
    match = FTYPE_RE.search(text)
    return int(match.group(1)) if match else None


def parse_lines(text: str) -> List[str]:
    """Non-empty output lines (``findmnt --list --output TARGET``: one mount point a line)."""
    return [line for line in text.rstrip("\r\n").splitlines() if line.strip()]


def parse_mount_point(text: str) -> Dict[str, Any]:
    """Parse ``findmnt --noheadings --output SOURCE,MAJ:MIN --mountpoint P``.

    ``source`` is the first word of the last line, ``majmin`` its last word (what the role
    compares with the device's numbers); both are empty when nothing is mounted there.
    """
    lines = parse_lines(text)
    words = lines[-1].split() if lines else []
    return {
        "mounted": bool(words),
        "source": words[0] if words else "",
        "majmin": words[-1] if words else "",
    }


# ---- pure descriptions ------------------------------------------------------------------------

def describe_member(signature: Dict[str, str], tree: Dict[str, Any]) -> List[str]:
    """What an array member holds, in the words of the role's refusal message."""
    found: List[str] = []
    fstype = signature.get("TYPE")
    if fstype == "linux_raid_member":
        found.append("linux_raid_member (array UUID %s)" % signature.get("UUID", "?"))
    elif fstype is not None:
        found.append("%s filesystem" % fstype)
    if "PTTYPE" in signature:
        found.append("%s partition table" % signature["PTTYPE"])
    for child in tree_children(tree):
        found.append("partition %s%s" % (child.get("name"),
                                         " (%s)" % child["fstype"] if child.get("fstype") else ""))
    if tree.get("mountpoint"):
        found.append("mounted at %s" % tree["mountpoint"])
    return found


def member_mounted(tree: Dict[str, Any]) -> bool:
    """Whether the device or one of its direct children is mounted."""
    return bool(tree.get("mountpoint")) or any(c.get("mountpoint") for c in tree_children(tree))


def describe_device(signature: Dict[str, str], ftype: Optional[int], children: List[str]) -> List[str]:
    """What the filesystem device holds, in the words of the role's refusal message."""
    found: List[str] = []
    fstype = signature.get("TYPE")
    if fstype is not None:
        text = "%s filesystem" % fstype
        if fstype == "xfs" and ftype is not None:
            text += " with ftype=%d" % ftype
        if "UUID" in signature:
            text += " (UUID %s)" % signature["UUID"]
        found.append(text)
    if "PTTYPE" in signature:
        found.append("%s partition table" % signature["PTTYPE"])
    for child in children:
        found.append("partition %s" % child)
    return found


def device_ready(signature: Dict[str, str], ftype: Optional[int], children: List[str]) -> bool:
    """Whether the device can be used as it is: xfs with ftype=1, no partition table, no
    partitions. Anything else gets formatted (when confirmed) or refused."""
    return (signature.get("TYPE") == "xfs" and ftype == 1
            and "PTTYPE" not in signature and not children)


# ---- reading the host -------------------------------------------------------------------------

class Host(object):
    """How the inspection reaches the host; the module passes its run_command/get_bin_path."""

    def which(self, name: str) -> Optional[str]:
        raise NotImplementedError

    def run(self, argv: List[str]) -> Tuple[int, str, str]:
        raise NotImplementedError

    def stat(self, path: str) -> Tuple[bool, bool]:
        """(exists, is_block), following links."""
        try:
            mode = os.stat(path).st_mode
        except OSError:
            return False, False
        return True, stat.S_ISBLK(mode)

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)


def _tool(host: Host, name: str) -> str:
    path = host.which(name)
    if not path:
        raise StorageProbeError("%s not found on the host (it comes with util-linux)" % name)
    return path


def _failed(argv: List[str], rc: int, err: str) -> StorageProbeError:
    return StorageProbeError("%s failed (rc %d): %s" % (" ".join(argv), rc, err.strip()))


def _output(host: Host, argv: List[str], ok_rc: Tuple[int, ...] = (0,)) -> str:
    """ARGV's standard output; fails naming the command when it exits outside OK_RC."""
    rc, out, err = host.run(argv)
    if rc not in ok_rc:
        raise _failed(argv, rc, err)
    return out


def read_signature(host: Host, path: str) -> Dict[str, str]:
    """``blkid -p -o export PATH`` as a dict; ``{}`` for a blank device (rc 2)."""
    return parse_export(_output(host, [_tool(host, "blkid"), "-p", "-o", "export", path], BLKID_OK_RC))


def read_tree(host: Host, path: str) -> Dict[str, Any]:
    """The lsblk tree (NAME, TYPE, FSTYPE, MOUNTPOINT, children) of PATH."""
    argv = [_tool(host, "lsblk"), "--json", "--paths", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINT", path]
    return parse_lsblk_tree(_output(host, argv))


def read_majmin(host: Host, path: str) -> str:
    """The device's MAJ:MIN as lsblk prints it, trimmed (e.g. ``259:3``)."""
    argv = [_tool(host, "lsblk"), "--nodeps", "--noheadings", "--output", "MAJ:MIN", path]
    return _output(host, argv).strip()


def _optional_output(host: Host, name: str, args: List[str]) -> Tuple[Optional[int], str]:
    """(rc, stdout) of a tool whose failure only means "nothing there"; (None, '') when the
    tool is not installed."""
    path = host.which(name)
    if not path:
        return None, ""
    rc, out, dummy = host.run([path] + args)
    return rc, out


def inspect_member(host: Host, path: str) -> Dict[str, Any]:
    """Everything the role needs about one array member. A path that is not a block device is
    reported (exists/is_block) but not probed."""
    exists, is_block = host.stat(path)
    info = {
        "exists": exists,
        "is_block": is_block,
        "real": host.realpath(path) if exists else "",
        "signature": {},
        "type": "",
        "uuid": "",
        "children": [],
        "found": [],
        "mounted": False,
    }
    if not is_block:
        return info
    signature = read_signature(host, path)
    tree = read_tree(host, path)
    info.update(
        signature=signature,
        type=signature.get("TYPE", ""),
        uuid=signature.get("UUID", ""),
        children=[c.get("name") for c in tree_children(tree)],
        found=describe_member(signature, tree),
        mounted=member_mounted(tree),
    )
    return info


def inspect_md(host: Host, device: str) -> Dict[str, Any]:
    """``mdadm --detail --export DEVICE``: active when mdadm is installed and exits 0."""
    rc, out = _optional_output(host, "mdadm", ["--detail", "--export", device])
    active = rc == 0
    return {
        "active": active,
        "members": parse_md_members(out) if active else [],
        "detail": parse_export(out) if active else {},
    }


def inspect_device(host: Host, path: str, probe: bool = True) -> Dict[str, Any]:
    """The filesystem device: existence, numbers and, with probe and when it is a block
    device, its signature, partitions, mounts, xfs ftype, description and readiness."""
    exists, is_block = host.stat(path)
    info = {
        "exists": exists,
        "is_block": is_block,
        "real": host.realpath(path) if exists else "",
        "majmin": read_majmin(host, path) if is_block else "",
        "probed": False,
        "signature": {},
        "children": [],
        "mounts": [],
        "ftype": None,
        "found": [],
        "ready": False,
    }
    if not (probe and is_block):
        return info
    signature = read_signature(host, path)
    children = [c.get("name") for c in tree_children(read_tree(host, path))]
    dummy, mounts = _optional_output(
        host, "findmnt", ["--noheadings", "--list", "--output", "TARGET", "--source", path])
    ftype: Optional[int] = None
    if signature.get("TYPE") == "xfs":
        dummy, geometry = _optional_output(host, "xfs_info", [path])
        ftype = parse_xfs_ftype(geometry)
    info.update(
        probed=True,
        signature=signature,
        children=children,
        mounts=parse_lines(mounts),
        ftype=ftype,
        found=describe_device(signature, ftype, children),
        ready=device_ready(signature, ftype, children),
    )
    return info


def inspect_mount_point(host: Host, path: str) -> Dict[str, Any]:
    """What is mounted at PATH (findmnt's SOURCE and MAJ:MIN), with findmnt's raw output."""
    dummy, out = _optional_output(
        host, "findmnt", ["--noheadings", "--output", "SOURCE,MAJ:MIN", "--mountpoint", path])
    result = parse_mount_point(out)
    result["findmnt"] = out.strip()
    return result


def inspect(host: Host, devices: List[str], device: Optional[str] = None, mount_point: Optional[str] = None, probe_device: bool = True) -> Dict[str, Any]:
    """Read everything at once: members (by the path given), the md array and the filesystem
    device (when device is given) and the mount point (when given)."""
    result: Dict[str, Any] = {}
    result["members"] = dict((path, inspect_member(host, path)) for path in devices)
    if device:
        result["md"] = inspect_md(host, device)
        result["device"] = inspect_device(host, device, probe_device)
    if mount_point:
        result["mount_point"] = inspect_mount_point(host, mount_point)
    return result
