# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Text put into the allocation map's SVG and HTML: escaped, and cleared of what XML 1.0 cannot hold."""

from __future__ import annotations

import html
import re
from typing import Any

# Characters XML 1.0 forbids (C0 controls but tab/newline/CR, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(value: Any) -> str:
    """The value as text XML can hold: forbidden characters become U+FFFD."""
    return _NOT_XML.sub("\ufffd", "" if value is None else str(value))


def esc(value: Any) -> str:
    """Escaped for element text and attribute values (quotes included; tab, newline and carriage
    return as character references, so that an XML parser reads attribute values back unchanged)."""
    return html.escape(clean(value), quote=True).replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")


def shorten(value: Any, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    text = clean(value)
    return text if len(text) <= limit else text[:max(1, limit - 1)] + "\u2026"
