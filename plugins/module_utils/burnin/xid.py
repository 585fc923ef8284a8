# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""XID errors in the kernel log, read from /dev/kmsg (every record since boot that the ring buffer
still holds, each with a sequence number, so "during the run" is "after the sequence seen at its start").

The driver logs `NVRM: Xid (PCI:0000:07:00): 79, pid=..., GPU has fallen off the bus.`; the PCI address
is the GPU's bus ID without the function (NVML prints it with an 8-digit domain: 00000000:07:00.0).
"""

from __future__ import annotations

import errno
import os
import re
from typing import List, Optional, Tuple

XID = re.compile(r"NVRM: Xid \(PCI:([0-9A-Fa-f]{4,8}):([0-9A-Fa-f]{2}):([0-9A-Fa-f]{2})[^)]*\): (\d+)(.*)$")


class Xid(object):
    def __init__(self, seq: int, bus: str, code: int, text: str) -> None:
        self.seq, self.bus, self.code, self.text = seq, bus, code, text

    def matches(self, pci_bus_id: str) -> bool:
        """Whether this XID is about the GPU at `pci_bus_id` (any domain width, any function)."""
        parts = re.match(r"^([0-9A-Fa-f]+):([0-9A-Fa-f]{2}):([0-9A-Fa-f]{2})", pci_bus_id or "")
        return bool(parts) and self.bus == "%x:%s:%s" % (int(parts.group(1), 16), parts.group(2).upper(), parts.group(3).upper())

    def __str__(self) -> str:
        return "Xid %d%s" % (self.code, self.text.rstrip())


def parse_records(records: List[str]) -> Tuple[int, List[Xid]]:
    """(the last sequence number, the XIDs) of /dev/kmsg records: `prio,seq,usec,flags;message`."""
    last = -1
    found: List[Xid] = []
    for record in records:
        head, _sep, message = record.partition(";")
        fields = head.split(",")
        if len(fields) < 3 or not fields[1].isdigit():
            continue
        seq = int(fields[1])
        last = max(last, seq)
        match = XID.search(message.strip())
        if match:
            bus = "%x:%s:%s" % (int(match.group(1), 16), match.group(2).upper(), match.group(3).upper())
            found.append(Xid(seq, bus, int(match.group(4)), match.group(5)))
    return last, found


def read_kmsg(path: str = "/dev/kmsg") -> Optional[List[str]]:
    """Every record /dev/kmsg holds now (None when it cannot be read), without waiting for new ones."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    records: List[str] = []
    try:
        while True:
            try:
                chunk = os.read(fd, 8192)
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    break
                if exc.errno == errno.EPIPE:  # overwritten while reading: go on with the next record
                    continue
                raise
            if not chunk:
                break
            # One record per read from /dev/kmsg; a saved copy (a regular file) gives several lines per read.
            records.extend(chunk.decode("utf-8", "replace").splitlines())
    finally:
        os.close(fd)
    return records
