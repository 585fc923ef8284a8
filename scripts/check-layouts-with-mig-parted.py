#!/usr/bin/env python
"""Cross-check of the gpu_partition layout reader against nvidia-mig-parted itself (not part of the test suite:
mig-parted is not packaged where CI installs from). Usage, from the checkout, with the virtualenv's Python:

    scripts/check-layouts-with-mig-parted.py /path/to/nvidia-mig-parted [mig-parted's examples/config.yaml]

Runs `nvidia-mig-parted assert --valid-config` (no GPU needed) on every layout in the README, docs/gpu-sharing.md
and the molecule scenario (and the examples file, if given), and on 300 random good and bad layouts, and prints
each layout on which the reader and mig-parted disagree. Exit status 1 when any does. One difference is by
design and counted apart: the reader refuses a GPU named by two entries of one layout (mig-parted accepts it,
and which entry wins is then not obvious to whoever reads the layout)."""
import json
import pathlib
import random
import re
import subprocess
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / ".collections"))
from ansible_collections.gpulab.dgx.plugins.module_utils.partition.layout import read_layout  # noqa: E402
from ansible_collections.gpulab.dgx.plugins.module_utils.common.errors import FieldError  # noqa: E402


def parted(config, name):
    p = subprocess.run([sys.argv[1], "assert", "--valid-config", "-f", "-", "-c", name],
                       input=yaml.safe_dump(config), capture_output=True, text=True, check=False)
    return p.returncode == 0, (p.stdout + p.stderr).strip().splitlines()[-1:]


STRICTER = "is named by an earlier entry of the same layout"


def ours(config, name):
    try:
        read_layout(config, name, list(range(8)))
        return True, ""
    except FieldError as e:
        return False, str(e)


cases = []
readme = pathlib.Path("README.md").read_text()
sec = readme[readme.index("## Sharing GPUs"):]
cases.append(("README", yaml.safe_load(re.search(r"```yaml\n(.*?)```", sec, re.S).group(1).replace("[...]", "[]"))["gpu_partition_config"]))
doc = pathlib.Path("docs/gpu-sharing.md").read_text()
cases.append(("gpu-sharing.md", yaml.safe_load(re.search(r"```yaml\n(.*?)```", doc, re.S).group(1))["gpu_partition_config"]))
mol = yaml.safe_load(open("molecule/gpu_partition/molecule.yml"))
cases.append(("molecule", mol["provisioner"]["inventory"]["group_vars"]["all"]["gpu_partition_config"]))
if len(sys.argv) > 2:
    cases.append(("mig-parted examples", yaml.safe_load(pathlib.Path(sys.argv[2]).read_text())))
total = 0
agree = disagree = 0
for label, config in cases:
    for name in config["mig-configs"]:
        a, b = parted(config, name), ours(config, name)
        if a[0] == b[0]:
            agree += 1
        else:
            disagree += 1
            print("DISAGREE", label, name, a, b)
print("documented layouts: agree", agree, "disagree", disagree)
total += disagree
# random layouts, good and bad
rnd = random.Random(7)
stricter = 0
profiles = ["1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb", "1g.10gb+me", "1c.3g.40gb", "1g.99gb", "bad", 5]
agree = disagree = 0
for _ in range(300):
    entries = []
    for _ in range(rnd.randint(0, 3)):
        e = {}
        e["devices"] = rnd.choice(["all", [0, 1], [rnd.randint(0, 7)], "some", [], 3])
        if rnd.random() < 0.9:
            e["mig-enabled"] = rnd.choice([True, False, "yes"])
        if rnd.random() < 0.7:
            e["mig-devices"] = {rnd.choice(profiles): rnd.choice([1, 2, 7, 0, -1, "x"]) for pick in range(rnd.randint(0, 2))}
        entries.append(e)
    config = {"version": rnd.choice(["v1", "v1", "v1", "v2"]), "mig-configs": {"x": entries}}
    a, b = parted(config, "x"), ours(config, "x")
    if a[0] == b[0]:
        agree += 1
    elif a[0] and STRICTER in b[1]:
        stricter += 1
    else:
        disagree += 1
        if disagree <= 12:
            print("DISAGREE", json.dumps(config), "parted:", a, "ours:", b)
print("random layouts: agree", agree, "disagree", disagree, "refused here by design (a GPU in two entries)", stricter)
sys.exit(1 if total + disagree else 0)
