# -*- coding: utf-8 -*-
"""The benchmark's comparison, small enough for CI: on every shared topology our placement is
NUMA-local at least as often as first-fit and a NUMA-blind link-score pick (timings are left to
the benchmark itself; they depend on the machine)."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import importlib.util
import os

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks", "placement_bench.py")


def load_bench():
    spec = importlib.util.spec_from_file_location("placement_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_bench()


@pytest.mark.parametrize("name", sorted(bench.shared_topologies()))
def test_ours_is_numa_local_at_least_as_often_as_the_baselines(name):
    topo = bench.shared_topologies()[name]
    shares = {}
    for policy_name, policy in bench.POLICIES:
        placed, local, best = bench.run_streams(topo, policy, streams=3, steps=20, seed=7)
        assert placed > 0
        shares[policy_name] = local / float(placed)
        if policy_name == "ours":
            assert best == placed  # ours always reaches the best weakest link the free GPUs allow
    assert shares["ours"] >= shares["first-fit"]
    assert shares["ours"] >= shares["link-score"]
