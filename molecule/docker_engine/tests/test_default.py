"""Testinfra checks for the docker_engine scenario (run after converge, idempotence and side_effect)."""

import json

import pytest

DAEMON_JSON = "/etc/docker/daemon.json"


def test_engine_package_installed(host):
    assert host.package("docker.io").is_installed


def test_python_sdk_importable(host):
    assert host.run("python3 -c 'import docker'").rc == 0


def test_service_running_and_enabled(host):
    service = host.service("docker")
    assert service.is_running
    assert service.is_enabled


def test_daemon_json_merged_and_foreign_keys_kept(host):
    config = json.loads(host.file(DAEMON_JSON).content_string)
    # Written by prepare.yml before the role ran; the role does not own them.
    assert config["labels"] == ["gpulab.molecule=kept"]
    assert config["log-opts"]["labels"] == "gpulab.tenant"
    # The role's defaults and the scenario's docker_engine_daemon_options.
    assert config["log-opts"]["max-size"] == "100m"
    assert config["log-opts"]["max-file"] == "3"
    assert config["live-restore"] is True
    assert config["features"]["containerd-snapshotter"] is False
    assert config["max-concurrent-downloads"] == 4
    # side_effect.yml added `debug` and removed it again with null.
    assert "debug" not in config
    assert "default-runtime" not in config


def test_running_daemon_uses_the_merged_file(host):
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert "gpulab.molecule=kept" in info["Labels"]
    assert info["LiveRestoreEnabled"] is True
    assert info["Debug"] is False
    assert info.get("DefaultRuntime", "runc") != "nvidia"


def test_no_restart_left_pending(host):
    assert not host.file("/var/lib/gpulab-dgx/docker_engine.restart-pending").exists


def test_container_runs_from_local_image(host):
    result = host.run("docker run --rm --network none gpulab/docker-engine-verify:local /usr/bin/true")
    assert result.rc == 0, result.stderr


@pytest.mark.parametrize("unit", ["docker.service"])
def test_no_daemon_reload_needed(host, unit):
    # The role never edits unit files, so systemd must not report a pending reload.
    out = host.check_output("systemctl show -p NeedDaemonReload --value %s", unit)
    assert out.strip() == "no"
