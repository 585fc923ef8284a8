"""The README's sharing example is a layout the gpu_partition module reads as it says: GPUs 0-3 whole, 4-7 as
seven 1g.10gb slices each; and its tenants' mig and gpu_share requests pass the tenant module's checks."""
import pathlib
import re

import yaml

from ansible_collections.gpulab.dgx.plugins.module_utils.partition.layout import read_layout
from ansible_collections.gpulab.dgx.plugins.module_utils.tenant.gpu_request import check_mig, check_share

ROOT = pathlib.Path(__file__).resolve().parents[3]


def example():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Sharing GPUs"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return yaml.safe_load(block.replace("[...]", "[]"))


def test_the_readme_layout_reads_as_it_says():
    data = example()
    desired = read_layout(data["gpu_partition_config"], data["gpu_partition_name"], list(range(8)))
    assert [desired[i].as_dict() for i in range(4)] == [{"mig_enabled": False, "mig_devices": {}}] * 4
    assert [desired[i].as_dict() for i in range(4, 8)] == [{"mig_enabled": True, "mig_devices": {"1g.10gb": 7}}] * 4


def test_the_readme_tenants_ask_for_what_the_module_accepts():
    carol, dave = example()["gpulab_tenants"]
    assert check_mig(carol["mig"], 0) == ("1g.10gb", 1)
    assert check_share(dave["gpu_share"], 0, None) == (1, "time-slice")
