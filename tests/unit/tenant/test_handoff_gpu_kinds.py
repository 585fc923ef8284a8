"""The handoff note says what kind of GPU a tenant got: shared GPUs with the isolation caveats, MIG instances
with CUDA's one-instance-per-process rule, dedicated GPUs without either."""
from ansible_collections.gpulab.dgx.plugins.plugin_utils.notes import render_notes

from test_handoff_usage_line import TEMPLATE, TENANT, VARS


def note(**over):
    return render_notes(TEMPLATE, [dict(TENANT, **over)], dict(VARS, tenant_usage_url=""))["alice"]


def test_a_shared_gpu_comes_with_its_caveats():
    text = note(gpu_share="time-slice")
    assert "**shared** with other tenants (time-sliced)" in text
    assert "no memory isolation" in text and "no fault isolation" in text


def test_mig_instances_are_named_as_such():
    text = note(gpus=["MIG-feb88891-0321-5fef-9c87-d4af3b54259e"])
    assert "MIG instance |" in text or "MIG instance " in text
    assert "one process per instance" in text and "shared" not in text


def test_a_dedicated_gpu_has_neither():
    text = note(gpu_share=None)
    assert "shared" not in text and "MIG" not in text
