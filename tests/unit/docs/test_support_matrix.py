"""The README's support claim and every role's meta/main.yml name the same platforms."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
CODENAMES = {("Ubuntu", "jammy"): "22.04", ("Ubuntu", "noble"): "24.04", ("Debian", "bookworm"): "12"}


def role_platforms(meta):
    data = yaml.safe_load(meta.read_text(encoding="utf-8"))
    return {(p["name"], str(v)) for p in data["galaxy_info"]["platforms"] for v in p["versions"]}


def readme_claim():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    claim = re.search(r"Supported managed hosts:(.*?)\*\*Tested here", text, re.S).group(1)
    return {(os_name, code) for (os_name, code), version in CODENAMES.items()
            if re.search(r"%s %s \(%s" % (os_name, re.escape(version), code), claim.replace("\n", " "))}, claim


def test_every_role_supports_what_the_readme_claims():
    claimed, claim = readme_claim()
    assert claimed == set(CODENAMES), claim
    for meta in sorted(ROOT.glob("roles/*/meta/main.yml")):
        assert role_platforms(meta) == claimed, meta


def test_the_readme_claims_no_other_release():
    claim = readme_claim()[1]
    versions = set(re.findall(r"(?:Ubuntu|Debian) (\d+(?:\.\d+)?)", claim))
    assert versions <= set(CODENAMES.values()), versions
