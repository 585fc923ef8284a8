"""The handoff note's one line on where a tenant sees their own usage (roles/tenant/templates/handoff.md.j2):
the dashboard link of tenant_usage_url with {tenant} filled in, else the commands inside the container."""
import os

from ansible_collections.gpulab.dgx.plugins.plugin_utils.notes import render_notes

TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "tenant", "templates", "handoff.md.j2")
TENANT = {"name": "alice", "ssh_bind_address": "0.0.0.0", "ssh_port": 2201, "login_user": "root",
          "ssh_key_fingerprints": ["SHA256:x"], "data_mount": "/data", "gpus": ["GPU-0"], "cpus": 4, "cpuset": "0-3",
          "cpuset_mems": "0", "memory": "16G", "shm_size": "4G", "disk": "100G", "disk_enforced": True,
          "ulimits": {"memlock": {"soft": -1, "hard": -1}, "stack": {"soft": 67108864, "hard": 67108864}},
          "pids_limit": 16384, "image": "gpulab/tenant:cuda12"}
VARS = {"inventory_hostname": "dgx01", "tenant_handoff_host": "dgx01.lab"}


def usage_section(text):
    section = text.split("## Your usage\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.strip()]


def test_without_a_link_the_note_names_what_shows_limits_and_use_inside_the_container():
    lines = usage_section(render_notes(TEMPLATE, [TENANT], dict(VARS, tenant_usage_url=""))["alice"])
    assert len(lines) == 1, lines
    for command in ("nvidia-smi", "df -h / /data", "/sys/fs/cgroup/memory.current", "memory.usage_in_bytes"):
        assert command in lines[0], lines


def test_a_link_gets_the_tenant_name():
    url = "https://grafana.example.org/d/gpulab?var-tenant={tenant}"
    lines = usage_section(render_notes(TEMPLATE, [TENANT], dict(VARS, tenant_usage_url=url))["alice"])
    assert lines == ["Your use of GPUs, CPUs, memory and disk over time: https://grafana.example.org/d/gpulab?var-tenant=alice"]
