# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Handoff notes on the controller: their file names, confined to the notes directory, and their
text rendered from the role's Jinja template in a sandbox (the template gets `tenant`, one tenant
module result, and the variables the task passes)."""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# A tenant or inventory host name as it may appear in a note's file name: no path separator, no
# leading dot, printable.
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,252}$")


class NoteError(Exception):
    """Bad input or a template that does not render; the message names the option or the tenant."""


def check_note_name(option: str, value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise NoteError("%s: %r cannot name a note file (letters, digits, '_', '.', ':', '-'; not starting with '.')"
                        % (option, value if isinstance(value, str) and value.isprintable() else "<unprintable>"))
    return value


def note_path(directory: str, tenant: str, host: str) -> str:
    """<directory>/<tenant>@<host>.md, refused unless it lies directly in `directory`."""
    path = os.path.join(directory, "%s@%s.md" % (tenant, host))
    if os.path.dirname(os.path.normpath(path)) != os.path.normpath(directory):
        raise NoteError("notes[].name: %r would put its note outside %s" % (tenant, directory))
    return path


def _plain(value: Any) -> Any:
    """Ansible's tagged strings, lists and dicts as plain Python values."""
    if isinstance(value, dict):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def render_notes(src: str, tenants: List[Dict[str, Any]], variables: Dict[str, Any]) -> Dict[str, str]:
    """{tenant name: the note's text} for every tenant, from the template file `src`."""
    env = ImmutableSandboxedEnvironment(loader=FileSystemLoader(os.path.dirname(src)), trim_blocks=True,
                                        keep_trailing_newline=True, undefined=StrictUndefined, autoescape=False)
    try:
        template = env.get_template(os.path.basename(src))
    except TemplateError as exc:
        raise NoteError("src: %s does not parse: %s" % (src, exc))
    base = _plain(variables)
    notes: Dict[str, str] = {}
    for tenant in tenants:
        plain = _plain(tenant)
        try:
            notes[plain["name"]] = template.render(dict(base, tenant=plain))
        except TemplateError as exc:
            raise NoteError("tenant %s: its note does not render from %s: %s" % (plain["name"], src, exc))
    return notes
