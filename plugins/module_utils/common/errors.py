# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one error of bad input: which field, which value, what is wrong with it."""

from __future__ import annotations

from typing import Any


class FieldError(ValueError):
    """Bad input, found before anything changes. The message reads `<field>: <value> <reason>`."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super(FieldError, self).__init__("%s: %r %s" % (field, value, reason))
