"""docs/variables.md is generated from roles/*/meta/argument_specs.yml and must be current."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "gen-role-docs.py"


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_role_docs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())


def test_variables_doc_is_current():
    current = (ROOT / "docs" / "variables.md").read_text(encoding="utf-8")
    assert current == gen.render(ROOT), "docs/variables.md is stale: run `make docs` and commit it"


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "variables.md"
    stale.write_text(gen.render(ROOT).replace("| Variable |", "| Var |", 1), encoding="utf-8")
    assert gen.main(["--check", "--output", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err
    fresh = tmp_path / "fresh.md"
    fresh.write_text(gen.render(ROOT), encoding="utf-8")
    assert gen.main(["--check", "--output", str(fresh)]) == 0


@pytest.mark.parametrize("role", ROLES)
def test_every_role_variable_is_documented(role):
    """Each public variable in defaults/main.yml has an entry in the main argument spec."""
    defaults_file = ROOT / "roles" / role / "defaults" / "main.yml"
    if not defaults_file.is_file():
        pytest.skip(f"{role} has no defaults/main.yml")
    defaults = yaml.safe_load(defaults_file.read_text(encoding="utf-8")) or {}
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    documented = set((specs["argument_specs"].get("main") or {}).get("options") or {})
    public = {name for name in defaults if not name.startswith("_")}
    missing = sorted(public - documented)
    assert not missing, f"roles/{role}: defaults without an argument spec entry: {missing}"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_is_in_the_doc(role):
    text = gen.render(ROOT)
    assert f"## {role}\n" in text
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    for name in (specs["argument_specs"].get("main") or {}).get("options") or {}:
        assert f"| `{name}` |" in text, f"{role}: {name} missing from the rendered doc"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Set O(a_b) to V(true), see C(x|y).", "Set `a_b` to `true`, see `x\\|y`."),
        ("I(never)  B(twice)\n over  lines", "*never* **twice** over lines"),
        ("L(the docs,https://example.invalid/x) and U(https://example.invalid)",
         "[the docs](https://example.invalid/x) and <https://example.invalid>"),
    ],
)
def test_markup(source, expected):
    assert gen.markup(source) == expected
