"""Shared unit-test harness: run a module's main() in-process and catch what it returns."""
import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(result)
        self.result = result
        self.failed = failed


@pytest.fixture
def run_module(monkeypatch):
    """run_module(module, args, check=False, diff=False) -> the result dict, with failed=True
    when the module called fail_json."""
    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, False)

    def fail_json(self, **kwargs):
        raise ModuleExit(kwargs, True)

    def _run(module, args, check=False, diff=False):
        # Every module starts through module_utils/common/module.py's new_module(): an AnsibleModule.
        monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
        monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
        args = dict(args)
        if check:
            args["_ansible_check_mode"] = True
        if diff:
            args["_ansible_diff"] = True
        with patch_module_args(args):
            with pytest.raises(ModuleExit) as info:
                module.main()
        result = dict(info.value.result)
        result["failed"] = info.value.failed
        return result

    return _run
