"""Map a real `nvidia-smi topo -m` onto the test-bed VM's NUMA nodes.

    python3 map_topology.py FIXTURE GUEST_LSCPU_P > mapped-topo.txt

FIXTURE holds a real `nvidia-smi topo -m` table (tests/unit/fixtures/topologies/
dgx-a100-epyc7742.txt: a DGX-A100 with 8 NUMA nodes, GPUs on nodes 3,1,7,5);
GUEST_LSCPU_P is `lscpu -p` from the guest (2 NUMA nodes, 4 vCPUs).

The GPU rows, their links (NV12 between every pair) and the NIC rows are kept verbatim. Only
the two affinity columns of each GPU row are rewritten: the host NUMA nodes that hold GPUs, in
order, are split into as many contiguous groups as the guest has nodes (on the DGX-A100 in NPS4
mode: nodes 1,3 on socket 0 -> guest node 0, nodes 5,7 on socket 1 -> guest node 1), and each GPU's
NUMA Affinity becomes its group's guest node and its CPU Affinity that node's real guest CPUs.
The result is ordinary `nvidia-smi topo -m` text that gpulab.dgx.gpu_info reads together with
the guest's own `lscpu -p`.
"""
import re
import sys


def guest_nodes(lscpu_p):
    nodes = {}
    for line in lscpu_p.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split(",")
        cpu, node = int(fields[0]), int(fields[3] or 0)
        nodes.setdefault(node, []).append(cpu)
    return {n: sorted(c) for n, c in sorted(nodes.items())}


def cpulist(cpus):
    """Canonical range form: [0, 1, 2, 5] -> "0-2,5"."""
    out = []
    cpus = sorted(cpus)
    start = 0
    for i in range(1, len(cpus) + 1):
        if i == len(cpus) or cpus[i] != cpus[i - 1] + 1:
            first, last = cpus[start], cpus[i - 1]
            out.append(str(first) if first == last else "%d-%d" % (first, last))
            start = i
    return ",".join(out)


def map_text(fixture, lscpu_p):
    lines = fixture.splitlines()
    header = next(i for i, l in enumerate(lines) if re.match(r"^\s+GPU0\s", l))
    columns = lines[header].strip().split("\t")
    if columns[-2:] != ["CPU Affinity", "NUMA Affinity"]:
        raise SystemExit("the fixture's table does not end with CPU Affinity and NUMA Affinity columns")
    rows = [i for i in range(header + 1, len(lines)) if re.match(r"^GPU\d+\t", lines[i])]
    host_nodes = sorted({int(lines[i].split("\t")[-1]) for i in rows})
    nodes = guest_nodes(lscpu_p)
    guest_ids = sorted(nodes)
    per_group = -(-len(host_nodes) // len(guest_ids))  # ceil
    to_guest = {h: guest_ids[k // per_group] for k, h in enumerate(host_nodes)}
    out = lines[header:]
    for i in rows:
        fields = lines[i].split("\t")
        node = to_guest[int(fields[-1])]
        fields[-2:] = [cpulist(nodes[node]), str(node)]
        out[i - header] = "\t".join(fields)
    return "\n".join(out) + "\n", to_guest


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1]) as f:
        fixture = f.read()
    with open(argv[2]) as f:
        lscpu_p = f.read()
    text, to_guest = map_text(fixture, lscpu_p)
    sys.stderr.write("map_topology: host NUMA node -> guest node: %s\n"
                     % ", ".join("%d->%d" % kv for kv in sorted(to_guest.items())))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
