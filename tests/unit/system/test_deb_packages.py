"""gpulab.dgx.deb_packages: dpkg-query's output parsed, and the module run against this host's real dpkg."""
import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.gpulab.dgx.plugins.module_utils.system.dpkg import installed, parse, upstream_version
from ansible_collections.gpulab.dgx.plugins.modules import deb_packages

# As dpkg-query prints it with the module's format (tab-separated: package, version, want, status).
OUTPUT = (
    "docker.io\t20.10.24+dfsg1-1+b3\tinstall\tinstalled\n"
    "nvidia-driver\t535.183.01-1~deb12u1\thold\tinstalled\n"
    "nvidia-kernel-dkms\t1:535.183.01-1\tinstall\thalf-configured\n"
    "old-tool\t\tdeinstall\tconfig-files\n"
    "never-installed\t\tunknown\tnot-installed\n"
    "garbage line without tabs\n"
)


def test_parse_keeps_version_selection_and_status():
    packages = parse(OUTPUT)
    assert packages["nvidia-driver"] == {"version": "535.183.01-1~deb12u1", "upstream_version": "535.183.01",
                                         "want": "hold", "status": "installed"}
    assert packages["old-tool"]["status"] == "config-files"
    assert "garbage line without tabs" not in packages
    assert installed(packages) == {"docker.io": "20.10.24+dfsg1-1+b3", "nvidia-driver": "535.183.01-1~deb12u1"}


@pytest.mark.parametrize("version,upstream", [
    ("1:535.183.01-1", "535.183.01"), ("26.1.5+dfsg1-9+b9", "26.1.5+dfsg1"), ("1.17.8-1", "1.17.8"),
    ("2.0", "2.0"), ("", ""), ("1:2.3", "2.3"),
])
def test_upstream_version(version, upstream):
    assert upstream_version(version) == upstream


needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg (Debian or Ubuntu)")


@needs_dpkg
def test_module_reads_this_hosts_packages(run_module):
    result = run_module(deb_packages, {}, check=True)
    assert result["failed"] is False and result["changed"] is False
    # dpkg itself is installed wherever dpkg-query runs.
    assert "dpkg" in result["installed"] and result["installed"] == sorted(result["installed"])
    assert result["packages"]["dpkg"]["status"] == "installed"
    assert result["installed_versions"]["dpkg"] == result["packages"]["dpkg"]["version"]
    assert "dpkg=" + result["packages"]["dpkg"]["version"] in result["installed_pins"]


@needs_dpkg
def test_module_with_names_leaves_unknown_ones_out(run_module):
    result = run_module(deb_packages, {"names": ["dpkg", "gpulab-no-such-package"]})
    assert result["failed"] is False
    assert set(result["packages"]) == {"dpkg"}


@needs_dpkg
# run_module only patches exit_json/fail_json: sharing it across examples is safe.
@settings(max_examples=int(os.environ.get("GPULAB_PROPERTY_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.text(max_size=20), st.sampled_from(["dpkg", "bash", "gpulab-no-such-package", "dpkg:amd64"])),
                max_size=3))
def test_any_names_are_read_or_refused_by_message(run_module, names):
    result = run_module(deb_packages, {"names": names})
    if result["failed"]:
        assert result["msg"].startswith("names: ") or result["msg"].startswith("dpkg-query failed")
        assert "Traceback" not in result["msg"]
    elif names:
        assert set(result["packages"]) <= set(n.split(":")[0] for n in names)
    else:  # no names: everything dpkg knows
        assert "dpkg" in result["packages"]
