# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared documentation of the modules' attributes."""

from __future__ import annotations


class ModuleDocFragment(object):

    # Modules that read or compute only: they never change the host.
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    description: Reads or computes only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
  idempotent:
    support: full
    description: Never changes the host; the same input gives the same answer.
"""
