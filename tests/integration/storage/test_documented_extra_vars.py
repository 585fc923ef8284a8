"""The -e flags the docs print work exactly as printed: `-e key=value` gives Ansible a string
("true"), and the roles must take it as the boolean it names. Each documented command's flags
go through the docker_storage role's argument validation and input checks (a harness playbook
that reads and changes nothing)."""
from __future__ import annotations

import re
import shlex
import sys

import pytest
import yaml

from test_site_playbook import ROOT, _run

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "inventories").rglob("*.yml"))]
HARNESS = "tests/integration/storage/playbooks/docker_storage_input.yml"
SPEC = yaml.safe_load((ROOT / "roles/docker_storage/meta/argument_specs.yml").read_text())
BOOLS = sorted(k for k, v in SPEC["argument_specs"]["main"]["options"].items() if v.get("type") == "bool")


def documented_commands():
    """Every `ansible-playbook ...` command in the docs, continuation lines joined."""
    commands = []
    for path in DOCS:
        text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
        for line in text.splitlines():
            line = line.strip().lstrip("#").strip()
            if line.startswith("ansible-playbook ") and "docker_storage_" in line:
                commands.append((path.relative_to(ROOT).as_posix(), line))
    return commands


def extra_vars(command):
    words = shlex.split(command.split("#")[0])
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word == "-e"]


def run_harness(*pairs):
    args = ["-i", "inventories/example", HARNESS, "-e", "ansible_connection=local",
            "-e", f"ansible_python_interpreter={sys.executable}"]
    for pair in pairs:
        args += ["-e", pair]
    return _run(*args)


def test_the_docs_print_a_conversion_command():
    assert any("docker_storage_force_format=true" in c for _p, c in documented_commands())


@pytest.mark.slow
@pytest.mark.parametrize("where,command", documented_commands())
def test_documented_command_passes_the_input_checks(where, command):
    pairs = extra_vars(command)
    assert pairs, command
    result = run_harness(*pairs)
    out = result.stdout + result.stderr
    assert result.returncode == 0, "%s: %s\n%s" % (where, command, out[-3000:])
    assert "must be true or false" not in out


@pytest.mark.slow
@pytest.mark.parametrize("text", ["true", "yes", "1", "True", "false", "no", "0", "off"])
def test_every_switch_accepts_the_string_forms(text):
    result = run_harness(*("%s=%s" % (name, text) for name in BOOLS),
                         "docker_storage_confirm_device=/dev/md1")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


@pytest.mark.slow
def test_a_switch_that_is_no_boolean_is_refused_naming_it():
    result = run_harness("docker_storage_force_format=maybe")
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "docker_storage_force_format" in out
