# -*- coding: utf-8 -*-
"""Unit tests for gpulab.dgx.storage_info (module_utils storage_probe and the module).

The tool outputs below are what util-linux 2.38, mdadm 4.2 and xfsprogs 6.1 print (the xfs,
ext4 and blank samples were taken from images made with mkfs.xfs / mkfs.ext4 on loop devices).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest
from ansible.module_utils import basic


from ansible_collections.gpulab.dgx.plugins.module_utils.storage import probe as lib
from ansible_collections.gpulab.dgx.plugins.modules import storage_info as module

# ---- samples ----------------------------------------------------------------------------------

# blkid -p -o export of a blank disk: no output, rc 2.
BLKID_BLANK = ""

BLKID_RAID_MEMBER = """\
DEVNAME=/dev/nvme0n1
UUID=2f6a1c7e-9d3b-4e8a-b1c5-7a0e3d9f4b21
UUID_SUB=8c1d5e2a-3f7b-4a9c-9e6d-1b2c3d4e5f60
LABEL=dgx-a100:1
VERSION=1.2
TYPE=linux_raid_member
USAGE=raid
"""

BLKID_XFS = """\
DEVNAME=/dev/md1
UUID=db0ffbe3-c8a7-4544-9470-99977504fd61
BLOCK_SIZE=512
TYPE=xfs
USAGE=filesystem
"""

BLKID_EXT4 = """\
DEVNAME=/dev/loop1
LABEL=ds-victim
UUID=a39a84bf-d123-4665-b01d-31ab83ade172
VERSION=1.0
BLOCK_SIZE=1024
TYPE=ext4
USAGE=filesystem
"""

BLKID_GPT = """\
DEVNAME=/dev/sdb
PTUUID=5e7d4c1a-0b6f-4d2e-9a3c-8f1e2d3c4b5a
PTTYPE=gpt
"""

LSBLK_BLANK = """\
{
   "blockdevices": [
      {
         "name": "/dev/nvme1n1",
         "type": "disk",
         "fstype": null,
         "mountpoint": null
      }
   ]
}
"""

LSBLK_GPT_PARTITIONS = """\
{
   "blockdevices": [
      {
         "name": "/dev/sdb",
         "type": "disk",
         "fstype": null,
         "mountpoint": null,
         "children": [
            {
               "name": "/dev/sdb1",
               "type": "part",
               "fstype": "vfat",
               "mountpoint": "/boot/efi"
            },{
               "name": "/dev/sdb2",
               "type": "part",
               "fstype": null,
               "mountpoint": null
            }
         ]
      }
   ]
}
"""

LSBLK_MOUNTED_EXT4 = """\
{
   "blockdevices": [
      {
         "name": "/dev/loop1",
         "type": "loop",
         "fstype": "ext4",
         "mountpoint": "/mnt"
      }
   ]
}
"""

LSBLK_ACTIVE_MEMBER = """\
{
   "blockdevices": [
      {
         "name": "/dev/nvme0n1",
         "type": "disk",
         "fstype": "linux_raid_member",
         "mountpoint": null,
         "children": [
            {
               "name": "/dev/md1",
               "type": "raid0",
               "fstype": "xfs",
               "mountpoint": "/raid"
            }
         ]
      }
   ]
}
"""

MDADM_RAID0_4 = """\
MD_LEVEL=raid0
MD_DEVICES=4
MD_METADATA=1.2
MD_UUID=2f6a1c7e:9d3b4e8a:b1c57a0e:3d9f4b21
MD_DEVNAME=1
MD_NAME=dgx-a100:1
MD_DEVICE_nvme2n1_ROLE=2
MD_DEVICE_nvme2n1_DEV=/dev/nvme2n1
MD_DEVICE_nvme0n1_ROLE=0
MD_DEVICE_nvme0n1_DEV=/dev/nvme0n1
MD_DEVICE_nvme3n1_ROLE=3
MD_DEVICE_nvme3n1_DEV=/dev/nvme3n1
MD_DEVICE_nvme1n1_ROLE=1
MD_DEVICE_nvme1n1_DEV=/dev/nvme1n1
"""

XFS_INFO_FTYPE1 = """\
meta-data=/dev/md1               isize=512    agcount=32, agsize=61047296 blks
         =                       sectsz=512   attr=2, projid32bit=1
         =                       crc=1        finobt=1, sparse=1, rmapbt=0
         =                       reflink=1    bigtime=1 inobtcount=1 nrext64=0
data     =                       bsize=4096   blocks=1953513472, imaxpct=5
         =                       sunit=128    swidth=512 blks
naming   =version 2              bsize=4096   ascii-ci=0, ftype=1
log      =internal log           bsize=4096   blocks=521728, version=2
         =                       sectsz=512   sunit=8 blks, lazy-count=1
realtime =none                   extsz=4096   blocks=0, rtextents=0
"""

XFS_INFO_FTYPE0 = XFS_INFO_FTYPE1.replace("isize=512", "isize=256").replace("crc=1", "crc=0").replace(
    "ftype=1", "ftype=0")

XFS_UUID = "db0ffbe3-c8a7-4544-9470-99977504fd61"
ARRAY_UUID = "2f6a1c7e-9d3b-4e8a-b1c5-7a0e3d9f4b21"


# ---- parsers ----------------------------------------------------------------------------------

def test_parse_export_of_a_blank_disk_is_empty():
    assert lib.parse_export(BLKID_BLANK) == {}


def test_parse_export_of_a_raid_member():
    sig = lib.parse_export(BLKID_RAID_MEMBER)
    assert sig["TYPE"] == "linux_raid_member"
    assert sig["UUID"] == ARRAY_UUID
    assert sig["LABEL"] == "dgx-a100:1"
    assert "PTTYPE" not in sig


def test_parse_export_keeps_equals_signs_in_values_and_skips_other_lines():
    assert lib.parse_export("LABEL=a=b\nnot a pair\n\nTYPE=xfs") == {"LABEL": "a=b", "TYPE": "xfs"}


def test_parse_md_members_of_a_4_member_raid0_in_mdadm_order():
    assert lib.parse_md_members(MDADM_RAID0_4) == [
        "/dev/nvme2n1", "/dev/nvme0n1", "/dev/nvme3n1", "/dev/nvme1n1"]


def test_parse_md_members_reads_older_mdadm_keys_and_spares():
    # mdadm before 4.2 mangled the sysfs name ("ev_dm_5"); the value is what counts.
    text = ("MD_LEVEL=raid5\nMD_DEVICES=3\nMD_DEVICE_ev_dm_5_ROLE=spare\nMD_DEVICE_ev_dm_5_DEV=/dev/dm-5\n"
            "MD_DEVICE_ev_dm_3_ROLE=1\nMD_DEVICE_ev_dm_3_DEV=/dev/dm-3\n")
    assert lib.parse_md_members(text) == ["/dev/dm-5", "/dev/dm-3"]


def test_parse_md_members_ignores_everything_else():
    assert lib.parse_md_members("mdadm: cannot open /dev/md1: No such file or directory\n") == []
    assert lib.parse_md_members("MD_LEVEL=raid0\nMD_DEVICE_sda_ROLE=0\n") == []


def test_parse_lsblk_tree_returns_the_device_with_its_children():
    tree = lib.parse_lsblk_tree(LSBLK_GPT_PARTITIONS)
    assert tree["name"] == "/dev/sdb"
    assert [c["name"] for c in lib.tree_children(tree)] == ["/dev/sdb1", "/dev/sdb2"]
    assert lib.tree_children(lib.parse_lsblk_tree(LSBLK_BLANK)) == []


def test_parse_lsblk_tree_of_nothing_and_of_garbage():
    assert lib.parse_lsblk_tree('{"blockdevices": []}') == {}
    with pytest.raises(lib.StorageProbeError):
        lib.parse_lsblk_tree("lsblk: /dev/nope: not a block device")


@pytest.mark.parametrize("text, ftype", [
    (XFS_INFO_FTYPE1, 1),
    (XFS_INFO_FTYPE0, 0),
    ("", None),
    ("xfs_info: /dev/md1 is not a valid XFS filesystem (unexpected SB magic number 0x00000000)\n", None),
])
def test_parse_xfs_ftype(text, ftype):
    assert lib.parse_xfs_ftype(text) == ftype


def test_parse_lines_of_findmnt_targets():
    assert lib.parse_lines("/srv/a\n/srv/b\n") == ["/srv/a", "/srv/b"]
    assert lib.parse_lines("") == []


def test_parse_mount_point():
    assert lib.parse_mount_point("/dev/md1 9:1\n") == {"mounted": True, "source": "/dev/md1", "majmin": "9:1"}
    assert lib.parse_mount_point("") == {"mounted": False, "source": "", "majmin": ""}


# ---- descriptions -----------------------------------------------------------------------------

def test_describe_blank_member_finds_nothing():
    tree = lib.parse_lsblk_tree(LSBLK_BLANK)
    assert lib.describe_member(lib.parse_export(BLKID_BLANK), tree) == []
    assert lib.member_mounted(tree) is False


def test_describe_raid_member_names_the_array_uuid_and_its_array():
    tree = lib.parse_lsblk_tree(LSBLK_ACTIVE_MEMBER)
    assert lib.describe_member(lib.parse_export(BLKID_RAID_MEMBER), tree) == [
        "linux_raid_member (array UUID %s)" % ARRAY_UUID,
        "partition /dev/md1 (xfs)",
    ]
    assert lib.member_mounted(tree) is True


def test_describe_raid_member_without_uuid():
    assert lib.describe_member({"TYPE": "linux_raid_member"}, {}) == ["linux_raid_member (array UUID ?)"]


def test_describe_member_with_partition_table_and_partitions():
    tree = lib.parse_lsblk_tree(LSBLK_GPT_PARTITIONS)
    assert lib.describe_member(lib.parse_export(BLKID_GPT), tree) == [
        "gpt partition table",
        "partition /dev/sdb1 (vfat)",
        "partition /dev/sdb2",
    ]
    assert lib.member_mounted(tree) is True


def test_describe_mounted_ext4_member():
    tree = lib.parse_lsblk_tree(LSBLK_MOUNTED_EXT4)
    assert lib.describe_member(lib.parse_export(BLKID_EXT4), tree) == ["ext4 filesystem", "mounted at /mnt"]
    assert lib.member_mounted(tree) is True


def test_describe_device_xfs_with_ftype_and_uuid():
    sig = lib.parse_export(BLKID_XFS)
    assert lib.describe_device(sig, 0, []) == ["xfs filesystem with ftype=0 (UUID %s)" % XFS_UUID]
    assert lib.describe_device(sig, 1, []) == ["xfs filesystem with ftype=1 (UUID %s)" % XFS_UUID]
    assert lib.describe_device(sig, None, []) == ["xfs filesystem (UUID %s)" % XFS_UUID]


def test_describe_device_ext4_partition_table_and_partitions():
    assert lib.describe_device(lib.parse_export(BLKID_EXT4), None, []) == [
        "ext4 filesystem (UUID a39a84bf-d123-4665-b01d-31ab83ade172)"]
    assert lib.describe_device(lib.parse_export(BLKID_GPT), None, ["/dev/sdb1", "/dev/sdb2"]) == [
        "gpt partition table", "partition /dev/sdb1", "partition /dev/sdb2"]
    assert lib.describe_device({}, None, []) == []


def test_device_ready_only_for_bare_xfs_with_ftype_1():
    xfs = lib.parse_export(BLKID_XFS)
    assert lib.device_ready(xfs, 1, []) is True
    assert lib.device_ready(xfs, 0, []) is False
    assert lib.device_ready(xfs, None, []) is False
    assert lib.device_ready(xfs, 1, ["/dev/md1p1"]) is False
    assert lib.device_ready(dict(xfs, PTTYPE="gpt"), 1, []) is False
    assert lib.device_ready(lib.parse_export(BLKID_EXT4), 1, []) is False
    assert lib.device_ready({}, None, []) is False


# ---- reading a host ---------------------------------------------------------------------------

class FakeHost(lib.Host):
    """A host with canned tool outputs: outputs maps a tuple of argv (without the tool's path
    prefix) to (rc, stdout, stderr); devices maps a path to (exists, is_block, real)."""

    def __init__(self, outputs, devices, missing=()):
        self.outputs = outputs
        self.devices = devices
        self.missing = set(missing)
        self.calls = []

    def which(self, name):
        return None if name in self.missing else "/usr/sbin/" + name

    def run(self, argv):
        key = tuple([argv[0].rsplit("/", 1)[-1]] + list(argv[1:]))
        self.calls.append(key)
        return self.outputs.get(key, (1, "", "unexpected call %r" % (key,)))

    def stat(self, path):
        exists, is_block, dummy = self.devices.get(path, (False, False, ""))
        return exists, is_block

    def realpath(self, path):
        return self.devices[path][2]


def blkid(path):
    return ("blkid", "-p", "-o", "export", path)


def lsblk(path):
    return ("lsblk", "--json", "--paths", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINT", path)


def majmin(path):
    return ("lsblk", "--nodeps", "--noheadings", "--output", "MAJ:MIN", path)


def mdadm(path):
    return ("mdadm", "--detail", "--export", path)


def findmnt_source(path):
    return ("findmnt", "--noheadings", "--list", "--output", "TARGET", "--source", path)


def findmnt_mp(path):
    return ("findmnt", "--noheadings", "--output", "SOURCE,MAJ:MIN", "--mountpoint", path)


MEMBERS = ["/dev/disk/by-id/nvme-A", "/dev/disk/by-id/nvme-B", "/dev/disk/by-id/nvme-C", "/dev/disk/by-id/nvme-D"]
REAL = ["/dev/nvme0n1", "/dev/nvme1n1", "/dev/nvme2n1", "/dev/nvme3n1"]


def assembled_host():
    """Four members that form the active raid0 /dev/md1, xfs ftype=1 mounted at /raid."""
    outputs = {
        mdadm("/dev/md1"): (0, MDADM_RAID0_4, ""),
        majmin("/dev/md1"): (0, "  9:1  \n", ""),
        blkid("/dev/md1"): (0, BLKID_XFS, ""),
        lsblk("/dev/md1"): (0, '{"blockdevices": [{"name": "/dev/md1", "type": "raid0", "fstype": "xfs", '
                               '"mountpoint": "/raid"}]}', ""),
        findmnt_source("/dev/md1"): (0, "/raid\n", ""),
        ("xfs_info", "/dev/md1"): (0, XFS_INFO_FTYPE1, ""),
        findmnt_mp("/raid"): (0, "/dev/md1 9:1\n", ""),
    }
    devices = {"/dev/md1": (True, True, "/dev/md1")}
    for path, real in zip(MEMBERS, REAL):
        outputs[blkid(path)] = (0, BLKID_RAID_MEMBER.replace("/dev/nvme0n1", real), "")
        outputs[lsblk(path)] = (0, LSBLK_ACTIVE_MEMBER.replace("/dev/nvme0n1", real), "")
        devices[path] = (True, True, real)
    return FakeHost(outputs, devices)


def test_inspect_members_of_an_active_array():
    host = assembled_host()
    result = lib.inspect(host, MEMBERS, device="/dev/md1", probe_device=False)
    assert list(result["members"]) == MEMBERS
    first = result["members"][MEMBERS[0]]
    assert first["real"] == "/dev/nvme0n1"
    assert first["type"] == "linux_raid_member"
    assert first["uuid"] == ARRAY_UUID
    assert first["children"] == ["/dev/md1"]
    assert first["mounted"] is True
    assert result["md"]["active"] is True
    assert sorted(result["md"]["members"]) == sorted(m["real"] for m in result["members"].values())
    assert result["md"]["detail"]["MD_LEVEL"] == "raid0"
    assert result["device"]["probed"] is False
    assert result["device"]["majmin"] == "9:1"
    assert "mount_point" not in result
    # Not probed: the device's contents were not read.
    assert blkid("/dev/md1") not in host.calls


def test_inspect_device_and_mount_point_of_an_active_array():
    result = lib.inspect(assembled_host(), [], device="/dev/md1", mount_point="/raid")
    assert result["members"] == {}
    dev = result["device"]
    assert dev["probed"] is True
    assert dev["ftype"] == 1
    assert dev["ready"] is True
    assert dev["mounts"] == ["/raid"]
    assert dev["found"] == ["xfs filesystem with ftype=1 (UUID %s)" % XFS_UUID]
    assert result["mount_point"] == {"mounted": True, "source": "/dev/md1", "majmin": "9:1",
                                     "findmnt": "/dev/md1 9:1"}
    assert result["mount_point"]["majmin"] == dev["majmin"]


def test_inspect_blank_members_without_mdadm_and_a_missing_array():
    outputs = {}
    devices = {}
    for path, real in zip(MEMBERS, REAL):
        outputs[blkid(path)] = (2, "", "")
        outputs[lsblk(path)] = (0, LSBLK_BLANK.replace("/dev/nvme1n1", real), "")
        devices[path] = (True, True, real)
    host = FakeHost(outputs, devices, missing=["mdadm"])
    result = lib.inspect(host, MEMBERS, device="/dev/md1", probe_device=False)
    assert all(m["found"] == [] and m["type"] == "" and m["mounted"] is False for m in result["members"].values())
    assert result["md"] == {"active": False, "members": [], "detail": {}}
    assert result["device"]["exists"] is False
    assert result["device"]["majmin"] == ""
    assert not any(call[0] == "mdadm" for call in host.calls)


def test_inspect_member_that_is_not_a_block_device_is_not_probed():
    host = FakeHost({}, {"/dev/nvme0n1": (True, True, "/dev/nvme0n1"), "/tmp/file": (True, False, "/tmp/file")})
    host.outputs[blkid("/dev/nvme0n1")] = (2, "", "")
    host.outputs[lsblk("/dev/nvme0n1")] = (0, LSBLK_BLANK, "")
    result = lib.inspect(host, ["/dev/nvme0n1", "/dev/nope", "/tmp/file"])
    assert result["members"]["/dev/nope"]["exists"] is False
    assert result["members"]["/dev/nope"]["real"] == ""
    assert result["members"]["/tmp/file"]["is_block"] is False
    assert [c for c in host.calls if c[-1] != "/dev/nvme0n1"] == []


def test_inspect_md_inactive_when_mdadm_fails():
    host = FakeHost({mdadm("/dev/md9"): (1, "", "mdadm: cannot open /dev/md9: No such file or directory")}, {})
    assert lib.inspect_md(host, "/dev/md9") == {"active": False, "members": [], "detail": {}}


def test_inspect_device_with_ext4_and_partitions_is_not_ready():
    host = FakeHost({
        majmin("/dev/sdb"): (0, "  8:16 \n", ""),
        blkid("/dev/sdb"): (0, BLKID_GPT, ""),
        lsblk("/dev/sdb"): (0, LSBLK_GPT_PARTITIONS, ""),
        findmnt_source("/dev/sdb"): (1, "", ""),
    }, {"/dev/sdb": (True, True, "/dev/sdb")})
    dev = lib.inspect_device(host, "/dev/sdb")
    assert dev["found"] == ["gpt partition table", "partition /dev/sdb1", "partition /dev/sdb2"]
    assert dev["ready"] is False
    assert dev["mounts"] == []
    assert dev["majmin"] == "8:16"
    assert not any(call[0] == "xfs_info" for call in host.calls)


def test_inspect_device_xfs_ftype0_and_without_xfs_info():
    outputs = {
        majmin("/dev/md1"): (0, "9:1\n", ""),
        blkid("/dev/md1"): (0, BLKID_XFS, ""),
        lsblk("/dev/md1"): (0, '{"blockdevices": [{"name": "/dev/md1", "type": "raid0", "fstype": "xfs", '
                               '"mountpoint": null}]}', ""),
        findmnt_source("/dev/md1"): (1, "", ""),
        ("xfs_info", "/dev/md1"): (0, XFS_INFO_FTYPE0, ""),
    }
    devices = {"/dev/md1": (True, True, "/dev/md1")}
    dev = lib.inspect_device(FakeHost(outputs, devices), "/dev/md1")
    assert dev["found"] == ["xfs filesystem with ftype=0 (UUID %s)" % XFS_UUID]
    assert dev["ready"] is False
    dev = lib.inspect_device(FakeHost(outputs, devices, missing=["xfs_info"]), "/dev/md1")
    assert dev["ftype"] is None
    assert dev["found"] == ["xfs filesystem (UUID %s)" % XFS_UUID]
    assert dev["ready"] is False


def test_blkid_failure_other_than_no_signature_fails():
    host = FakeHost({majmin("/dev/sdb"): (0, "8:16\n", ""),
                     blkid("/dev/sdb"): (8, "", "blkid: ambivalent result")},
                    {"/dev/sdb": (True, True, "/dev/sdb")})
    with pytest.raises(lib.StorageProbeError, match="rc 8"):
        lib.inspect_device(host, "/dev/sdb")


def test_missing_util_linux_fails():
    host = FakeHost({}, {"/dev/sdb": (True, True, "/dev/sdb")}, missing=["lsblk"])
    with pytest.raises(lib.StorageProbeError, match="lsblk not found"):
        lib.inspect_device(host, "/dev/sdb")


def test_nothing_mounted_at_the_mount_point():
    host = FakeHost({findmnt_mp("/raid"): (1, "", "")}, {})
    assert lib.inspect_mount_point(host, "/raid") == {"mounted": False, "source": "", "majmin": "",
                                                      "findmnt": ""}


# ---- the module -------------------------------------------------------------------------------

@pytest.fixture
def run(monkeypatch, run_module):
    """Run the module against assembled_host(); return (result dict, commands run)."""
    host = assembled_host()

    def run_command(self, argv, **kwargs):
        return host.run(argv)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: host.which(name))
    monkeypatch.setattr(lib.Host, "stat", lambda self, path: host.stat(path))
    monkeypatch.setattr(lib.Host, "realpath", lambda self, path: host.realpath(path))

    def _run(args, check=False):
        return run_module(module, args, check=check), host.calls

    return _run


@pytest.mark.parametrize("check", [False, True])
def test_module_reads_everything_in_one_run_and_changes_nothing(run, check):
    result, calls = run({"devices": MEMBERS, "device": "/dev/md1", "mount_point": "/raid"}, check=check)
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["md"]["active"] is True
    assert result["device"]["ready"] is True
    assert result["mount_point"]["majmin"] == result["device"]["majmin"] == "9:1"
    assert set(result["members"]) == set(MEMBERS)
    assert all(call[0] in ("blkid", "lsblk", "mdadm", "findmnt", "xfs_info") for call in calls)


def test_module_reports_a_missing_member_without_failing(run):
    result, dummy = run({"devices": ["/dev/disk/by-id/nvme-A", "/dev/sdz"], "device": "/dev/md1"})
    assert result["failed"] is False
    assert result["members"]["/dev/sdz"]["exists"] is False


def test_module_fails_when_blkid_fails(run, monkeypatch):
    def broken(self, argv, **kwargs):
        return 4, "", "blkid: error: /dev/nvme0n1: Input/output error"

    monkeypatch.setattr(basic.AnsibleModule, "run_command", broken)
    result, dummy = run({"devices": MEMBERS})
    assert result["failed"] is True
    assert "blkid" in result["msg"] and "Input/output error" in result["msg"]
