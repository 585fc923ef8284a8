"""Code a role ships to a host as a zip of plugins/module_utils files (tenant_metrics' refresh, gpu_partition's
gpulab-mig): the import closure such a list must equal, and a Python prelude that runs a command with every
`ansible` import refused, as on a host where only the zip exists."""
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
IMPORT = re.compile(r"ansible_collections\.gpulab\.dgx\.plugins\.module_utils\.([\w.]+) import")

# python -c NO_ANSIBLE COMMAND ARGS...: runs COMMAND as __main__ with Ansible out of reach.
NO_ANSIBLE = """
import importlib.abc, runpy, sys
class NoAnsible(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "ansible" or name.startswith("ansible."):
            raise ImportError("Ansible is out of reach here: " + name)
        return None
sys.meta_path.insert(0, NoAnsible())
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
# The same, with no NVML either: the GPUs are read through an nvidia-smi TEST DOUBLE on PATH.
NO_ANSIBLE_NO_NVML = NO_ANSIBLE.replace("sys.argv = [", 'sys.modules["pynvml"] = None\nsys.argv = [', 1)


def closure(start):
    """Paths (relative to plugins/module_utils) of `start` and everything it imports from this collection."""
    seen, todo = set(), [start]
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        with open(os.path.join(MODULE_UTILS, rel)) as handle:
            todo.extend(m.replace(".", "/") + ".py" for m in IMPORT.findall(handle.read()))
    return seen
