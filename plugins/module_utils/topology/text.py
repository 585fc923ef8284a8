# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read a topology from text: `nvidia-smi topo -m`, optionally with `lscpu` and/or `numactl -H`.

Every real variant of the matrix is accepted: tab- or space-separated, NIC columns (NIC#,
mlx5_#) and the NIC legend, empty CPU Affinity, NUMA Affinity as a node, a list or N/A, the
"GPU NUMA ID" column, the legacy SOC label, and prompt, comment or `nvidia-smi -L` lines around
the table (`-L` lines, if present, give GPU names and UUIDs).

A matrix taken inside a restricted cpuset (container, Slurm job, systemd slice) shows an empty
or narrowed CPU Affinity for GPUs whose node's CPUs are not all allowed; NUMA Affinity still
names the node. The reader then trusts NUMA Affinity and says so in `warnings`.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset, parse_cpuset
from ansible_collections.gpulab.dgx.plugins.module_utils.topology.model import (
    TopologyError, default_distances, new_gpu, normalize_link_label, pair_key)

_GPU_LABEL = re.compile(r"^GPU(\d+)$")
_TRAILING_NAMES = ("CPU Affinity", "NUMA Affinity", "GPU NUMA ID")
_TRAILING_FIRST_WORDS = ("CPU", "NUMA", "GPU")
_SMI_L = re.compile(r"^GPU (\d+): (.+?) \(UUID: ([^)]+)\)\s*$")
_SMI_L_MIG = re.compile(r"^\s+MIG \S+\s+Device\s+\d+:")
_LSCPU_NODE = re.compile(r"^\s*NUMA node(\d+) CPU\(s\):[ \t]*(.*?)\s*$")
_LSCPU_KV = re.compile(r"^\s*([^:]+?):\s*(.*?)\s*$")
_NUMACTL_CPUS = re.compile(r"^node (\d+) cpus:(.*)$")


def parse_topology_text(topo_matrix: str, lscpu: Optional[str] = None, numactl: Optional[str] = None) -> Dict[str, Any]:
    """Build the topology dict from `nvidia-smi topo -m` text (+ optional `lscpu`, `numactl -H`).

    NUMA node CPU lists come from numactl, else lscpu, else the GPUs' CPU Affinity; distances
    from numactl, else 10/20; hyperthread siblings from `lscpu -p`/`lscpu -e`, or from plain
    lscpu when its counts pin down the usual numbering (CPU n and n + cores share a core).
    A GPU's node is the one NUMA Affinity names; an empty CPU Affinity, or one narrower than its
    node (a restricted cpuset), gives way to the node's CPUs and adds a `warnings` entry.
    Raises TopologyError naming the problem.
    """
    if not isinstance(topo_matrix, str) or not topo_matrix.strip():
        raise TopologyError("topo_matrix is empty: give the output of `nvidia-smi topo -m`")
    rows = parse_topo_matrix(topo_matrix)
    cpu_info = parse_lscpu(lscpu) if lscpu else None
    numa_info = parse_numactl(numactl) if numactl else None

    node_cpus: Optional[Dict[int, List[int]]] = None
    distances: Optional[Dict[str, Dict[str, int]]] = None
    if numa_info is not None:
        node_cpus = numa_info["nodes"]
        distances = numa_info["distances"]
    elif cpu_info is not None and cpu_info["nodes"]:
        node_cpus = cpu_info["nodes"]
    siblings = cpu_info["siblings"] if cpu_info is not None else []

    gpus = []
    lists_known = node_cpus is not None
    if node_cpus is None:
        node_cpus = _nodes_from_affinity(rows["gpus"])
    restricted: Dict[str, Any] = {"empty": [], "narrower": [], "named": False}
    for gpu in rows["gpus"]:
        numa_node = _gpu_node(gpu, node_cpus, lists_known)
        cpus = _gpu_cpus(gpu, numa_node, node_cpus, lists_known, restricted)
        gpus.append(new_gpu(gpu["index"], numa_node=numa_node, cpus=cpus,
                            uuid=gpu.get("uuid"), name=gpu.get("name"), mig_mode=gpu.get("mig_mode")))
    node_ids = sorted(node_cpus)
    if distances is None:
        distances = default_distances(node_ids)
    numa_nodes = dict(
        (str(n), {"cpus": sorted(node_cpus[n]), "distance": distances.get(str(n), {})}) for n in node_ids)
    all_cpus = set()
    for cpus in node_cpus.values():
        all_cpus.update(cpus)
    if siblings and all_cpus:
        siblings = [g for g in siblings if len([c for c in g if c in all_cpus]) > 1]
    elif not siblings and not (cpu_info and cpu_info.get("exact")):
        siblings = siblings_from_node_lists(node_cpus)
    topology = {"gpus": gpus, "links": rows["links"], "numa_nodes": numa_nodes, "siblings": siblings}
    warnings = _cpuset_warnings(restricted, lists_known)
    if warnings:
        topology["warnings"] = warnings
    return topology


def parse_topo_matrix(text: str) -> Dict[str, Any]:
    """Parse the matrix itself: {"gpus": [{index, cpu_affinity, numa_affinity, gpu_numa_id, ...}], "links"}."""
    lines = text.splitlines()
    header_at = _find_header(lines)
    if header_at is None:
        if any(_SMI_L.match(line) for line in lines):
            raise TopologyError("no `nvidia-smi topo -m` table found: the text looks like `nvidia-smi -L` "
                                "output (GPU list); give the output of `nvidia-smi topo -m`")
        raise TopologyError("no `nvidia-smi topo -m` table found: expected a header line whose first "
                            "column is GPU0 (like '\\tGPU0\\tGPU1\\tCPU Affinity\\tNUMA Affinity')")
    devices, trailing = _split_header(lines[header_at])
    ndev = len(devices)
    rows: Dict[str, Tuple[List[str], Dict[str, str], int]] = {}
    for number in range(header_at + 1, len(lines)):
        line = lines[number]
        if not line.strip():
            if rows:
                break
            continue
        label = line.split()[0]
        if label not in devices:
            if rows:
                break
            raise TopologyError("line %d: expected a row of the matrix (one of %s), got %r"
                                % (number + 1, ", ".join(devices), line.strip()))
        if label in rows:
            raise TopologyError("line %d: row %s appears twice" % (number + 1, label))
        cells, values = _split_row(line, ndev, trailing, label, number + 1)
        rows[label] = (cells, values, number + 1)

    gpu_columns = [(pos, int(_GPU_LABEL.match(name).group(1)))
                   for pos, name in enumerate(devices) if _GPU_LABEL.match(name)]
    if not gpu_columns:
        raise TopologyError("the `nvidia-smi topo -m` header names no GPU columns")
    names = _smi_l_names(lines)
    gpus = []
    links: Dict[str, str] = {}
    for pos, index in gpu_columns:
        label = devices[pos]
        if label not in rows:
            raise TopologyError("the matrix has a %s column but no %s row" % (label, label))
        cells, values, line_no = rows[label]
        if cells[pos] != "X":
            raise TopologyError("line %d: row %s should have X in its own column, has %r" % (line_no, label, cells[pos]))
        for other_pos, other in gpu_columns:
            if other == index:
                continue
            try:
                link = normalize_link_label(cells[other_pos])
            except TopologyError as exc:
                raise TopologyError("line %d: %s to GPU%d: %s" % (line_no, label, other, exc))
            key = pair_key(index, other)
            if key in links and links[key] != link:
                raise TopologyError("the matrix is not symmetric: row GPU%d says %s to GPU%d, row GPU%d says %s"
                                    % (other, links[key], index, index, link))
            links[key] = link
        gpu = {
            "index": index,
            "cpu_affinity": _cpus(values.get("CPU Affinity", ""), "%s CPU Affinity" % label, line_no),
            "numa_affinity": _numa_affinity(values.get("NUMA Affinity", ""), label, line_no),
            "gpu_numa_id": _gpu_numa_id(values.get("GPU NUMA ID", ""), label, line_no),
        }
        if index in names:
            gpu.update(names[index])
        gpus.append(gpu)
    return {"gpus": gpus, "links": links}


def _find_header(lines: List[str]) -> Optional[int]:
    for number, line in enumerate(lines):
        tokens = line.split()
        if tokens and tokens[0] == "GPU0" and "X" not in tokens:
            return number
    return None


def _split_header(line: str) -> Tuple[List[str], List[str]]:
    """Device columns (GPU#, NIC#, mlx5_#...) and the trailing named columns, in order."""
    tokens = line.split()
    devices = []
    rest: List[str] = []
    for pos, token in enumerate(tokens):
        if token in _TRAILING_FIRST_WORDS:
            rest = tokens[pos:]
            break
        devices.append(token)
    if len(set(devices)) != len(devices):
        raise TopologyError("the `nvidia-smi topo -m` header repeats a column: %s" % " ".join(devices))
    trailing = []
    text = " ".join(rest)
    while text:
        for name in _TRAILING_NAMES:
            if text.startswith(name):
                trailing.append(name)
                text = text[len(name):].lstrip()
                break
        else:
            word, _sep, text = text.partition(" ")
            # An unknown named column: keep a slot for it so later columns stay aligned.
            trailing.append(word)
    return devices, trailing


def _split_row(line: str, ndev: int, trailing: List[str], label: str, line_no: int) -> Tuple[List[str], Dict[str, str]]:
    if "\t" in line:
        fields = [f.strip() for f in line.split("\t")]
        cells = fields[1:1 + ndev]
        raw = fields[1 + ndev:]
        if len(cells) < ndev or any(not c for c in cells):
            raise TopologyError("line %d: row %s has %d link cells, the header has %d device columns"
                                % (line_no, label, len([c for c in cells if c]), ndev))
        nt = len(trailing)
        if len(raw) > nt and nt:
            # nvidia-smi pads with extra tabs (e.g. before "GPU NUMA ID"): the last column is the
            # last non-empty field.
            tail = [r for r in raw[nt - 1:] if r]
            raw = raw[:nt - 1] + [tail[-1] if tail else ""]
        elif any(raw[len(trailing):]):
            raise TopologyError("line %d: row %s has more fields than the header" % (line_no, label))
        values = dict(zip(trailing, raw))
    else:
        tokens = line.split()[1:]
        cells = tokens[:ndev]
        raw = tokens[ndev:]
        if len(cells) < ndev:
            raise TopologyError("line %d: row %s has %d link cells, the header has %d device columns"
                                % (line_no, label, len(cells), ndev))
        if len(raw) > len(trailing):
            raise TopologyError("line %d: row %s has more fields than the header" % (line_no, label))
        # Space-aligned text loses empty fields; an empty one is the leading CPU Affinity.
        missing = len(trailing) - len(raw)
        values = dict(zip(trailing, [""] * missing + raw))
    return cells, values


def _cpus(text: str, what: str, line_no: int) -> List[int]:
    if text.upper() in ("", "N/A"):
        return []
    try:
        return parse_cpuset(text)
    except ValueError as exc:
        raise TopologyError("line %d: %s: %s" % (line_no, what, exc))


def _numa_affinity(text: str, label: str, line_no: int) -> List[int]:
    return _cpus(text, "%s NUMA Affinity" % label, line_no)


def _gpu_numa_id(text: str, label: str, line_no: int) -> Optional[int]:
    if text.upper() in ("", "N/A"):
        return None
    if not text.isdigit():
        raise TopologyError("line %d: %s GPU NUMA ID %r is not a node number or N/A" % (line_no, label, text))
    return int(text)


def _smi_l_names(lines: List[str]) -> Dict[int, Dict[str, Any]]:
    """Names and UUIDs from `nvidia-smi -L` lines, when the text carries them."""
    found: Dict[int, Dict[str, Any]] = {}
    current = None
    for line in lines:
        match = _SMI_L.match(line)
        if match:
            current = int(match.group(1))
            found[current] = {"name": match.group(2).strip(), "uuid": match.group(3).strip()}
        elif current is not None and _SMI_L_MIG.match(line):
            found[current]["mig_mode"] = "Enabled"
        elif not line.startswith((" ", "\t")):
            current = None
    return found


def _nodes_from_affinity(gpus: List[Dict[str, Any]]) -> Dict[int, List[int]]:
    """NUMA nodes when only the matrix is known: its NUMA Affinity, else one node per CPU set."""
    nodes: Dict[int, set] = {}
    unnamed = []
    for gpu in gpus:
        affinity = gpu["numa_affinity"]
        if affinity:
            nodes.setdefault(affinity[0], set()).update(gpu["cpu_affinity"])
            for extra in affinity[1:]:
                nodes.setdefault(extra, set())
        elif gpu["cpu_affinity"]:
            unnamed.append(set(gpu["cpu_affinity"]))
    if unnamed:
        # No NUMA column (older drivers) or N/A: each group of overlapping CPU sets is one node,
        # numbered by its lowest CPU after the named ones.
        groups: List[set] = []
        for cpus in unnamed:
            merged = [g for g in groups if g & cpus]
            for g in merged:
                groups.remove(g)
                cpus = cpus | g
            groups.append(cpus)
        known = set()
        for cpus in nodes.values():
            known.update(cpus)
        next_id = (max(nodes) + 1) if nodes else 0
        for cpus in sorted(groups, key=min):
            if cpus <= known:
                continue
            nodes[next_id] = cpus - known
            next_id += 1
    return dict((n, sorted(c)) for n, c in nodes.items())


def _gpu_node(gpu: Dict[str, Any], node_cpus: Dict[int, List[int]], lists_known: bool) -> int:
    """A GPU's NUMA node: the one nvidia-smi names when it has CPUs, or when it is a single node
    and only the matrix is known (its CPUs may all be outside the cpuset nvidia-smi ran in), else
    the node holding most of its CPU Affinity (a Grace GPU's own node is memory-only), else the
    only node."""
    affinity = gpu["numa_affinity"]
    with_cpus = [n for n in sorted(node_cpus) if node_cpus[n]]
    if affinity and affinity[0] in node_cpus and (
            node_cpus[affinity[0]] or (len(affinity) == 1 and not lists_known)):
        return affinity[0]
    if gpu["cpu_affinity"]:
        wanted = set(gpu["cpu_affinity"])
        best = max(with_cpus, key=lambda n: (len(wanted & set(node_cpus[n])), -n)) if with_cpus else None
        if best is not None and wanted & set(node_cpus[best]):
            return best
    if len(with_cpus) == 1:
        return with_cpus[0]
    if affinity and affinity[0] in node_cpus:
        return affinity[0]
    return -1


def _gpu_cpus(gpu: Dict[str, Any], numa_node: int, node_cpus: Dict[int, List[int]], lists_known: bool, restricted: Dict[str, Any]) -> List[int]:
    """A GPU's CPUs: its CPU Affinity, or its node's CPUs when the cell is empty or narrower than
    the node (a restricted cpuset, noted in `restricted`)."""
    cell = gpu["cpu_affinity"]
    node = node_cpus.get(numa_node, []) if numa_node >= 0 else []
    affinity = gpu["numa_affinity"]
    if not cell:
        named_has_cpus = bool(affinity) and (not lists_known or bool(node_cpus.get(affinity[0])))
        if named_has_cpus:
            restricted["empty"].append(gpu["index"])
            restricted["named"] = True
        return node
    if set(cell) < set(node):
        restricted["narrower"].append(gpu["index"])
        restricted["named"] = restricted["named"] or bool(affinity)
        return node
    return cell


def _cpuset_warnings(restricted: Dict[str, Any], lists_known: bool) -> List[str]:
    """The warning for a matrix taken inside a restricted cpuset, if it shows one."""
    parts = []
    if restricted["empty"]:
        parts.append("GPU %s CPU Affinity empty" % format_cpuset(restricted["empty"]))
    if restricted["narrower"]:
        parts.append("GPU %s CPU Affinity narrower than the node" % format_cpuset(restricted["narrower"]))
    if not parts:
        return []
    text = "nvidia-smi topo -m was taken inside a restricted cpuset: " + ", ".join(parts)
    if restricted["named"]:
        text += "; NUMA node taken from the NUMA Affinity column"
    if lists_known:
        text += "; GPU CPUs are the nodes' full CPU lists from lscpu/numactl -H"
    else:
        text += "; pass lscpu or numactl -H output to get the nodes' full CPU lists"
    return [text]


def parse_lscpu(text: str) -> Dict[str, Any]:
    """Read `lscpu`, `lscpu -p` or `lscpu -e` text: {"nodes": {id: [cpus]}, "siblings": [[cpus]]}."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("# CPU,"):
            return _parse_lscpu_table(lines[number + 1:], stripped[2:].split(","), ",", number + 2)
        if stripped.split()[:1] == ["CPU"] and ("CORE" in stripped.split() or "NODE" in stripped.split()):
            return _parse_lscpu_table(lines[number + 1:], stripped.split(), None, number + 2)
    nodes: Dict[int, List[int]] = {}
    info: Dict[str, str] = {}
    for number, line in enumerate(lines):
        match = _LSCPU_NODE.match(line)
        if match:
            try:
                nodes[int(match.group(1))] = parse_cpuset(match.group(2))
            except ValueError as exc:
                raise TopologyError("lscpu line %d: NUMA node%s CPU(s): %s" % (number + 1, match.group(1), exc))
            continue
        match = _LSCPU_KV.match(line)
        if match:
            info[match.group(1)] = match.group(2)
    if not nodes and not info:
        raise TopologyError("lscpu text has no 'NUMA nodeN CPU(s):' lines and no CPU table")
    return {"nodes": nodes, "siblings": _siblings_from_counts(info, nodes)}


def _siblings_from_counts(info: Dict[str, str], nodes: Dict[int, List[int]]) -> List[List[int]]:
    """Siblings from plain lscpu counts, when the numbering is the usual one (n, n + cores)."""
    try:
        threads = int(info.get("Thread(s) per core", "1"))
        total = int(info["CPU(s)"])
        online = parse_cpuset(info.get("On-line CPU(s) list", "0-%d" % (total - 1)))
    except (KeyError, ValueError):
        return []
    if threads < 2 or total % threads or online != list(range(total)):
        return []
    cores = total // threads
    groups = [[c + t * cores for t in range(threads)] for c in range(cores)]
    node_of = {}
    for node, cpus in nodes.items():
        for cpu in cpus:
            node_of[cpu] = node
    for group in groups:
        if len(set(node_of.get(c) for c in group)) != 1:
            return []  # numbering is not (n, n + cores): leave siblings unknown
    return groups


def siblings_from_node_lists(node_cpus: Dict[int, List[int]]) -> List[List[int]]:
    """Infer hyperthread pairs from NUMA CPU lists shaped like "0-19,40-59" / "20-39,60-79".

    When every node with CPUs is exactly two equal-length ranges and all share one offset, CPU n
    and n + offset are taken as siblings (the usual x86 Linux numbering for 2-way SMT). A
    single-range list ("0-23") says nothing and gives no pairs.
    """
    offsets = set()
    pairs: List[List[int]] = []
    for cpus in node_cpus.values():
        if not cpus:
            continue
        ranges = _ranges(cpus)
        if len(ranges) != 2:
            return []
        (a_lo, a_hi), (b_lo, b_hi) = ranges
        if a_hi - a_lo != b_hi - b_lo:
            return []
        offsets.add(b_lo - a_lo)
        pairs.extend([c, c + b_lo - a_lo] for c in range(a_lo, a_hi + 1))
    if len(offsets) != 1:
        return []
    return sorted(pairs)


def _ranges(cpus: List[int]) -> List[Tuple[int, int]]:
    out: List[Tuple[int, int]] = []
    for cpu in sorted(cpus):
        if out and cpu == out[-1][1] + 1:
            out[-1] = (out[-1][0], cpu)
        else:
            out.append((cpu, cpu))
    return out


def _parse_lscpu_table(lines: List[str], columns: List[str], sep: Optional[str], first_line: int) -> Dict[str, Any]:
    names = [c.strip().upper() for c in columns]
    if "CPU" not in names:
        raise TopologyError("lscpu table header has no CPU column")
    nodes: Dict[int, List[int]] = {}
    cores: Dict[Tuple[str, str], List[int]] = {}
    for offset, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in (line.split(sep) if sep else line.split())]
        row = dict(zip(names, fields))
        if not row.get("CPU", "").isdigit():
            raise TopologyError("lscpu line %d: %r is not a CPU number" % (first_line + offset, row.get("CPU")))
        if row.get("ONLINE", "yes") == "no":
            continue
        cpu = int(row["CPU"])
        node = row.get("NODE", "")
        if node.isdigit():
            nodes.setdefault(int(node), []).append(cpu)
        if row.get("CORE", "").isdigit():
            cores.setdefault((row.get("SOCKET", ""), row["CORE"]), []).append(cpu)
    siblings = sorted(sorted(g) for g in cores.values() if len(g) > 1)
    return {"nodes": dict((n, sorted(c)) for n, c in nodes.items()), "siblings": siblings, "exact": True}


def parse_numactl(text: str) -> Dict[str, Any]:
    """Read `numactl -H`: {"nodes": {id: [cpus]}, "distances": {"a": {"b": int}}}."""
    nodes: Dict[int, List[int]] = {}
    distances: Dict[str, Dict[str, int]] = {}
    lines = text.splitlines()
    header: Optional[List[int]] = None
    for number, line in enumerate(lines):
        stripped = line.strip()
        match = _NUMACTL_CPUS.match(stripped)
        if match:
            words = match.group(2).split()
            if not all(w.isdigit() for w in words):
                raise TopologyError("numactl line %d: node %s cpus: %r is not a list of CPU numbers"
                                    % (number + 1, match.group(1), match.group(2).strip()))
            nodes[int(match.group(1))] = sorted(int(w) for w in words)
            continue
        if stripped.startswith("node distances"):
            header = []
            continue
        if header is not None:
            words = stripped.split()
            if words[:1] == ["node"]:
                header = [int(w) for w in words[1:] if w.isdigit()]
                continue
            if words and words[0].endswith(":") and words[0][:-1].isdigit():
                values = words[1:]
                if len(values) != len(header) or not all(v.isdigit() for v in values):
                    raise TopologyError("numactl line %d: distance row %r does not match header nodes %s"
                                        % (number + 1, stripped, header))
                distances[words[0][:-1]] = dict((str(n), int(v)) for n, v in zip(header, values))
    if not nodes:
        raise TopologyError("numactl text has no 'node N cpus:' lines (give the output of `numactl -H`)")
    for node in nodes:
        if str(node) not in distances:
            distances = default_distances(sorted(nodes)) if not distances else distances
            distances.setdefault(str(node), {str(node): 10})
    return {"nodes": nodes, "distances": distances}
