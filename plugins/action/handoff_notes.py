# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write (and remove) a host's tenant handoff notes on the controller, in one task: every note is
rendered here, in the controller's process, and written only where its text or mode differ."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.gpulab.dgx.plugins.plugin_utils.notes import (
    NoteError, check_note_name, note_path, render_notes)

NOTE_MODE = 0o600
DIR_MODE = 0o700


def _current(path: str) -> Optional[str]:
    """The note's text when it exists as a regular file with mode 0600, else None (it is rewritten)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not os.path.isfile(path) or os.path.islink(path) or (info.st_mode & 0o777) != NOTE_MODE:
        return None
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _write(path: str, text: str) -> None:
    """Replace `path` atomically: a temporary file in the same directory, mode 0600, synced, renamed."""
    handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
    try:
        os.fchmod(handle, NOTE_MODE)
        os.write(handle, text.encode("utf-8"))
        os.fsync(handle)
        os.close(handle)
        handle = -1
        os.replace(temp, path)
    except BaseException:
        if handle >= 0:
            os.close(handle)
        os.unlink(temp)
        raise


class ActionModule(ActionBase):
    """See plugins/modules/handoff_notes.py for the options."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("dir", "host", "notes", "remove", "src", "vars"))

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = self._task.args
        try:
            directory, host, notes, remove = self._arguments(args)
            src = self._find_needle("templates", str(args.get("src") or "handoff.md.j2"))
            rendered = render_notes(src, notes, dict(args.get("vars") or {}))
            result.update(self._settle(directory, host, rendered, remove))
        except (NoteError, AnsibleError, OSError) as exc:
            result.update(failed=True, msg=str(exc))
        return result

    @staticmethod
    def _arguments(args: Dict[str, Any]) -> Any:
        directory = args.get("dir")
        if not isinstance(directory, str) or not directory.strip():
            raise NoteError("dir: %r is not a directory path" % (directory,))
        host = check_note_name("host", args.get("host"))
        notes = args.get("notes") or []
        remove = args.get("remove") or []
        if not isinstance(notes, list) or not all(isinstance(n, dict) for n in notes):
            raise NoteError("notes: must be a list of tenants (the tenant module's `tenant` results)")
        if not isinstance(remove, list):
            raise NoteError("remove: must be a list of tenant names")
        for note in notes:
            check_note_name("notes[].name", note.get("name"))
        for name in remove:
            check_note_name("remove[]", name)
        return os.path.realpath(os.path.expanduser(directory)), host, notes, list(remove)

    def _settle(self, directory: str, host: str, rendered: Dict[str, str], remove: List[str]) -> Dict[str, Any]:
        written: List[str] = []
        removed: List[str] = []
        diffs: List[Dict[str, str]] = []
        check = bool(self._task.check_mode)
        if rendered and not os.path.isdir(directory) and not check:
            os.makedirs(directory, DIR_MODE)
        for name, text in rendered.items():
            path = note_path(directory, name, host)
            before = _current(path) if os.path.isdir(directory) else None
            if before == text:
                continue
            written.append(path)
            diffs.append(dict(before=before or "", after=text, before_header=path, after_header=path))
            if not check:
                _write(path, text)
        for name in remove:
            path = note_path(directory, name, host)
            if os.path.lexists(path):
                removed.append(path)
                diffs.append(dict(before=_current(path) or "", after="", before_header=path, after_header="(removed)"))
                if not check:
                    os.unlink(path)
        out: Dict[str, Any] = dict(changed=bool(written or removed), written=written, removed=removed,
                                   unchanged=len(rendered) - len(written))
        if self._task.diff and diffs:
            out["diff"] = diffs
        return out
