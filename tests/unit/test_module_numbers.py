"""Every module, every int option (suboptions included): a number ansible-core cannot read ("inf",
"nan") fails with a message naming the option, never a traceback (module_utils/common/module.py).
The options are read from each module's DOCUMENTATION, which ansible-test's validate-modules keeps
equal to its argument spec."""
import importlib
import pkgutil

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins import modules as modules_package


def int_options(options, prefix=""):
    for name, option in (options or {}).items():
        if option.get("type") == "int":
            yield prefix + name, None
        if option.get("suboptions"):
            inner = "%s%s%s." % (prefix, name, "[0]" if option.get("type") == "list" else "")
            for path, parent in int_options(option["suboptions"], inner):
                yield path, parent or name


CASES = []
for info in pkgutil.iter_modules(modules_package.__path__):
    module = importlib.import_module("%s.%s" % (modules_package.__name__, info.name))
    for path, parent in int_options(yaml.safe_load(module.DOCUMENTATION).get("options")):
        CASES.append((module, path, parent))


def args_for(path, parent, value):
    if parent is None:
        return {path: value}
    leaf = path.split(".")[-1]
    if path.startswith(parent + "[0]."):  # a list of dicts (gpulab.dgx.tenants' tenants)
        return {parent: [{"name": "ab", leaf: value}]}
    return {parent: {leaf: value}}  # a dict (gpulab.dgx.tenants' defaults)


def test_every_module_with_int_options_is_covered():
    assert {case[0].__name__.rsplit(".", 1)[1] for case in CASES} >= {"tenant", "tenants", "gpu_placement"}


@pytest.mark.parametrize("module,path,parent", CASES, ids=["%s:%s" % (case[0].__name__.rsplit(".", 1)[1], case[1]) for case in CASES])
# run_module only patches exit_json/fail_json: sharing it across examples is safe.
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.sampled_from(["inf", "-inf", "Infinity", " NaN", "nan", "-Infinity", "sNaN", "+inf"]))
def test_unreadable_number_is_refused_naming_the_option(run_module, module, path, parent, value):
    result = run_module(module, args_for(path, parent, value))
    assert result["failed"] is True
    assert result["msg"] == "%s: %r is not a whole number" % (path, value), result["msg"]
