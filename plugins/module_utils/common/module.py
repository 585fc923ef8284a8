# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one way the collection's modules start: AnsibleModule, except that a number ansible-core
cannot read ("inf", "nan" for an int option) fails with a message naming the option instead of a
traceback (ansible-core's check_type_int raises OverflowError or decimal.InvalidOperation there)."""

from __future__ import annotations

import decimal
import traceback
from typing import Any, Dict, Iterator, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule, _load_params, missing_required_lib


def unreadable_ints(spec: Dict[str, Any], params: Any, prefix: str = "") -> Iterator[Tuple[str, Any]]:
    """(option path, value) of every int option whose text is not a finite number."""
    if not isinstance(params, dict):
        return
    for name, option in spec.items():
        value = params.get(name)
        if option.get("type") == "int" and isinstance(value, str):
            try:
                finite = decimal.Decimal(value.strip()).is_finite()
            except (decimal.InvalidOperation, ValueError):
                finite = True  # not a number at all: ansible-core reports that itself
            if not finite:
                yield prefix + name, value
        sub = option.get("options")
        if sub and isinstance(value, list):
            for index, item in enumerate(value):
                yield from unreadable_ints(sub, item, "%s%s[%d]." % (prefix, name, index))
        elif sub and isinstance(value, dict):
            yield from unreadable_ints(sub, value, "%s%s." % (prefix, name))


def _masked(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The same options (and suboptions), untyped, with the same no_log: the secret ones stay hidden."""
    masked: Dict[str, Any] = {}
    for name, option in spec.items():
        masked[name] = dict(type="raw", no_log=bool(option.get("no_log")))
        if option.get("options"):
            masked[name].update(type=option.get("type", "raw"), elements=option.get("elements"),
                                options=_masked(option["options"]))
            if masked[name]["elements"] is None:
                del masked[name]["elements"]
    return masked


def new_module(**kwargs: Any) -> AnsibleModule:
    """AnsibleModule(**kwargs); an int option given as "inf" or "nan" fails naming it."""
    spec = kwargs["argument_spec"]
    found: Optional[Tuple[str, Any]] = next(unreadable_ints(spec, _load_params()), None)
    if found is None:
        return AnsibleModule(**kwargs)
    module = AnsibleModule(argument_spec=_masked(spec), supports_check_mode=True)
    module.fail_json(msg="%s: %r is not a whole number" % found, field=found[0])
    raise AssertionError("fail_json returned")  # not reached: fail_json exits


def require_docker_sdk(module: AnsibleModule) -> None:
    """Fail `module` as Ansible's modules do when the Docker SDK for Python cannot be imported on the host."""
    try:
        import docker  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        module.fail_json(msg=missing_required_lib("docker"), exception=traceback.format_exc())
