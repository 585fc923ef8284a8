# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A host's list of tenants checked as a whole before anything changes: each item against the
one-tenant options and rules, names unique. Every bad item is reported, by position and name."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.argspec import HOST_OPTIONS, check_item, item_params
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.spec import SpecError, TenantSpec, validate_spec


def _label(index: int, item: Any) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return "tenants[%d]%s" % (index, " (%s)" % name if isinstance(name, str) and name.isprintable() else "")


def _error(label: str, msg: str, field: Optional[str] = None, value: Any = None) -> Dict[str, Any]:
    return {"item": label, "msg": "%s: %s" % (label, msg), "field": field, "value": value}


def check_items(items: List[Any], defaults: Dict[str, Any], host: Dict[str, Any]) -> Tuple[List[TenantSpec], List[Dict[str, Any]]]:
    """(the specs in order, every problem found: item, msg, field and value). Options left out of an
    item (None) come from `defaults`, then from the one-tenant defaults."""
    specs: List[TenantSpec] = []
    errors: List[Dict[str, Any]] = []
    seen: Dict[str, int] = {}
    given_defaults = dict((k, v) for k, v in (defaults or {}).items() if v is not None)
    misplaced = sorted(set(given_defaults) & set(HOST_OPTIONS))
    if misplaced:  # the same for every item: said once
        return specs, [_error("defaults", "%s belong to the run, not to the tenants: give them to the module itself"
                              % ", ".join(misplaced), "defaults")]
    for index, item in enumerate(items):
        label = _label(index, item)
        if not isinstance(item, dict):
            errors.append(_error(label, "is not a dict of tenant options"))
            continue
        given = dict((k, v) for k, v in item.items() if v is not None and k not in HOST_OPTIONS)
        params, problems = check_item(item_params(given, given_defaults, host))
        if problems:
            errors.extend(_error(label, problem) for problem in problems)
            continue
        try:
            spec = validate_spec(params)
        except SpecError as exc:
            errors.append(_error(label, str(exc), exc.field, exc.value))
            continue
        if spec.name in seen:
            errors.append(_error(label, "name: %r is given twice (first as tenants[%d])" % (spec.name, seen[spec.name]),
                                 "name", spec.name))
            continue
        seen[spec.name] = index
        specs.append(spec)
    return specs, errors
