#!/usr/bin/env python
"""Fleet placement: best fit (plugins/module_utils/fleet/place.py, the rule tenant.yml uses) against first fit, on
simulated fleets of mixed 8-GPU hosts, one run, ratios printed.

    .venv/bin/python benchmarks/fleet_bench.py [--streams N] [--seed S]

Fleet: 12 hosts of three shapes, 8 GPUs each - DGX-A100-like (8 NUMA nodes of 1 GPU and 16 CPUs), HGX-H100-like
(2 nodes of 4 GPUs and 64 CPUs) and single-node boxes (1 node of 8 GPUs and 128 CPUs) - in a shuffled order.
Stream: tenants asking for 1 (50 %), 2 (25 %), 4 (15 %) or 8 (10 %) GPUs with 8 CPUs per GPU, or no GPU and
8 CPUs (1 in 10), numa_policy strict. Each policy places the same stream until its first refusal.
Printed per policy: the tenants placed before the first refusal (and the GPUs they hold), and the GPUs stranded
then (free GPUs while a request for at most that many was refused); and best fit over first fit."""

import argparse
import os
import random
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.gpulab.dgx.plugins.module_utils.fleet.place import (  # noqa: E402 pylint: disable=wrong-import-position
    FleetError, Host, Node, Request, best_fit, first_fit, _take)

SHAPES = {"a100": (8, 1, 16), "h100": (2, 4, 64), "box": (1, 8, 128)}  # nodes, GPUs per node, CPUs per node


def fleet(rnd, hosts=12):
    kinds = [k for k in sorted(SHAPES) for copy in range(hosts // len(SHAPES))]
    rnd.shuffle(kinds)
    out = []
    for n, kind in enumerate(kinds):
        nodes, gpus, cpus = SHAPES[kind]
        out.append(Host("%s-%02d" % (kind, n), [Node(i, gpus, cpus) for i in range(nodes)]))
    return out


def stream(rnd, length=400):
    out = []
    for n in range(length):
        if rnd.random() < 0.1:
            out.append(Request("t%03d" % n, 0, 8))
            continue
        gpus = rnd.choices([1, 2, 4, 8], weights=[50, 25, 15, 10])[0]
        out.append(Request("t%03d" % n, gpus, 8 * gpus))
    return out


def run(policy, hosts, requests):
    """(tenants placed before the first refusal, GPUs they hold, GPUs stranded at the refusal)."""
    held = 0
    for placed, request in enumerate(requests):
        try:
            host, node = policy(hosts, request)
        except FleetError:
            free = sum(h.free_gpus() for h in hosts)
            return placed, held, free if request.gpus <= free else 0
        _take(host, node, request)
        held += request.gpus
    return len(requests), held, 0


def compare(streams=200, seed=1):
    """{policy: (mean tenants placed, mean GPUs held, mean GPUs stranded)} over `streams` seeded fleets and streams."""
    totals = {"best fit": [0.0, 0.0, 0.0], "first fit": [0.0, 0.0, 0.0]}
    for k in range(streams):
        requests = stream(random.Random(seed * 100003 + k))
        for name, policy in (("best fit", best_fit), ("first fit", first_fit)):
            hosts = fleet(random.Random(seed * 7919 + k))
            for i, value in enumerate(run(policy, hosts, requests)):
                totals[name][i] += value
    return dict((name, tuple(v / streams for v in values)) for name, values in totals.items())


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    result = compare(args.streams, args.seed)
    print("fleet placement, %d streams of 400 tenants on 12 mixed 8-GPU hosts (96 GPUs), until the first refusal" % args.streams)
    for name in ("best fit", "first fit"):
        placed, held, stranded = result[name]
        print("  %-9s  %5.1f tenants placed holding %5.1f GPUs, %5.2f GPUs stranded" % (name, placed, held, stranded))
    best, first = result["best fit"], result["first fit"]
    print("  best fit / first fit: tenants x%.2f, GPUs in use x%.2f, stranded x%.2f" % (
        best[0] / first[0], best[1] / first[1], (best[2] / first[2]) if first[2] else float("nan")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
