# -*- coding: utf-8 -*-
"""Unit tests for gpulab.dgx.daemon_json (module and module_utils)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import stat

import pytest
from ansible.module_utils import basic


from ansible_collections.gpulab.dgx.plugins.module_utils.docker import daemon_json as lib
from ansible_collections.gpulab.dgx.plugins.modules import daemon_json as module


@pytest.fixture
def run(monkeypatch, run_module):
    """Run the module with args; return its result dict (failed=True on fail_json)."""
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))

    def _run(args, check=False, diff=False):
        result = run_module(module, args, check=check, diff=diff)
        result["warnings"] = list(warnings)
        return result

    return _run


def write(path, data):
    path.write_text(data if isinstance(data, str) else json.dumps(data))


# --- merge semantics -------------------------------------------------------------------

def test_merge_keeps_unrelated_keys_and_merges_nested_dicts():
    current = {"registry-mirrors": ["http://m"], "log-opts": {"max-size": "1m", "labels": "x"}}
    patch = {"log-opts": {"max-size": "100m", "max-file": "3"}, "live-restore": True}
    assert lib.merge(current, patch) == {
        "registry-mirrors": ["http://m"],
        "log-opts": {"max-size": "100m", "labels": "x", "max-file": "3"},
        "live-restore": True,
    }


def test_merge_replaces_lists_and_scalars_and_null_removes():
    current = {"dns": ["1.1.1.1"], "debug": True, "default-runtime": "nvidia", "features": {"a": True, "b": True}}
    patch = {"dns": ["9.9.9.9"], "debug": False, "default-runtime": None, "features": {"b": None}}
    assert lib.merge(current, patch) == {"dns": ["9.9.9.9"], "debug": False, "features": {"a": True}}


def test_merge_does_not_mutate_inputs():
    current = {"a": {"b": 1}}
    patch = {"a": {"c": 2}}
    lib.merge(current, patch)
    assert current == {"a": {"b": 1}}
    assert patch == {"a": {"c": 2}}


def test_merge_dict_over_scalar_replaces_it_and_drops_nulls_inside():
    assert lib.merge({"features": True}, {"features": {"x": True, "y": None}}) == {"features": {"x": True}}


def test_blank_file_reads_as_empty_object():
    assert lib.parse_config(" \n", "/x") == {}


@pytest.mark.parametrize("text", ["{", "[1, 2]", "\"s\"", "{\"a\": 1,}"])
def test_parse_rejects_non_objects(text):
    with pytest.raises(lib.DaemonJsonError) as info:
        lib.parse_config(text, "/etc/docker/daemon.json")
    assert "/etc/docker/daemon.json" in str(info.value)


# --- module ----------------------------------------------------------------------------

def test_creates_missing_file_and_directory(run, tmp_path):
    path = tmp_path / "etc" / "docker" / "daemon.json"
    result = run({"path": str(path), "merge": {"live-restore": True}})
    assert result["changed"] and result["created"] and not result["failed"]
    assert json.loads(path.read_text()) == {"live-restore": True}
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644


def test_unrelated_key_survives_and_second_run_is_unchanged(run, tmp_path):
    path = tmp_path / "daemon.json"
    write(path, {"registry-mirrors": ["http://mirror.invalid"], "log-opts": {"labels": "team"}})
    args = {"path": str(path), "merge": {"log-opts": {"max-size": "100m", "max-file": "3"}, "live-restore": True}}
    first = run(args)
    assert first["changed"]
    on_disk = json.loads(path.read_text())
    assert on_disk == {
        "registry-mirrors": ["http://mirror.invalid"],
        "log-opts": {"labels": "team", "max-size": "100m", "max-file": "3"},
        "live-restore": True,
    }
    assert first["config"] == on_disk
    mtime = os.stat(str(path)).st_mtime_ns
    second = run(args)
    assert not second["changed"]
    assert os.stat(str(path)).st_mtime_ns == mtime


def test_equal_content_in_other_formatting_is_not_rewritten(run, tmp_path):
    path = tmp_path / "daemon.json"
    text = '{"live-restore":true,   "debug": false}'
    write(path, text)
    result = run({"path": str(path), "merge": {"debug": False}})
    assert not result["changed"]
    assert path.read_text() == text


def test_check_mode_reports_change_without_writing(run, tmp_path):
    path = tmp_path / "daemon.json"
    write(path, {"debug": True})
    result = run({"path": str(path), "merge": {"debug": False}}, check=True, diff=True)
    assert result["changed"]
    assert json.loads(path.read_text()) == {"debug": True}
    assert json.loads(result["diff"]["before"]) == {"debug": True}
    assert json.loads(result["diff"]["after"]) == {"debug": False}


def test_check_mode_does_not_create_file(run, tmp_path):
    path = tmp_path / "docker" / "daemon.json"
    result = run({"path": str(path), "merge": {"debug": False}}, check=True)
    assert result["changed"] and result["created"]
    assert not path.parent.exists()


def test_unparseable_file_fails_and_is_left_alone(run, tmp_path):
    path = tmp_path / "daemon.json"
    write(path, '{"debug": true,, }')
    result = run({"path": str(path), "merge": {"live-restore": True}})
    assert result["failed"]
    assert str(path) in result["msg"] and "not valid JSON" in result["msg"]
    assert path.read_text() == '{"debug": true,, }'


def test_refuses_nvidia_default_runtime(run, tmp_path):
    path = tmp_path / "daemon.json"
    write(path, {"debug": True})
    result = run({"path": str(path), "merge": {"default-runtime": "nvidia"}})
    assert result["failed"]
    assert "default-runtime" in result["msg"] and "nvidia" in result["msg"]
    assert json.loads(path.read_text()) == {"debug": True}


def test_warns_about_existing_nvidia_default_runtime(run, tmp_path):
    path = tmp_path / "daemon.json"
    write(path, {"default-runtime": "nvidia"})
    result = run({"path": str(path), "merge": {"debug": True}})
    assert not result["failed"]
    assert any("default-runtime" in w for w in result.get("warnings", []))


def test_null_removes_existing_default_runtime(run, tmp_path):
    path = tmp_path / "daemon.json"
    write(path, {"default-runtime": "nvidia", "debug": True})
    result = run({"path": str(path), "merge": {"default-runtime": None}})
    assert result["changed"]
    assert json.loads(path.read_text()) == {"debug": True}


def test_log_opts_values_must_be_strings(run, tmp_path):
    path = tmp_path / "daemon.json"
    result = run({"path": str(path), "merge": {"log-opts": {"max-file": 3}}})
    assert result["failed"] and "log-opts.max-file" in result["msg"]
    assert not path.exists()


def test_backup_keeps_previous_content(run, tmp_path):
    path = tmp_path / "daemon.json"
    write(path, {"debug": True})
    result = run({"path": str(path), "merge": {"debug": False}, "backup": True})
    assert json.loads(open(result["backup_file"]).read()) == {"debug": True}


def test_existing_mode_is_kept(run, tmp_path):
    path = tmp_path / "daemon.json"
    write(path, {"debug": True})
    os.chmod(str(path), 0o600)
    run({"path": str(path), "merge": {"debug": False}})
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["daemon.json"]
