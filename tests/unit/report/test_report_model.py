"""report/model.py and report/checks.py over real topology samples (DGX-A100, DGX-1, 16 GPUs): the map
the module returns, built through the metrics snapshot from tenant containers as Docker shows them."""
import json

from report_helpers import GIB, Tenant, a100_topology, a100_two_node_topology, report_for, sixteen_gpu_topology, three_tenants_a100


def by_name(report):
    return dict((t["name"], t) for t in report["tenants"])


def test_three_tenants_on_a_two_node_a100():
    topology, tenants = three_tenants_a100()
    report = report_for(topology, tenants)
    json.dumps(report)  # JSON-able, as a module result must be
    host = report["host"]
    assert host["gpus"] == {"total": 8, "held": 4, "free": 4}
    assert host["cpus"] == {"total": 256, "held": 32 + 16 + 16, "free": 256 - 64}
    assert host["memory_limit_bytes"] == (128 + 64 + 64) * GIB
    assert [n["id"] for n in report["numa_nodes"]] == [0, 1]
    node0 = report["numa_nodes"][0]
    assert node0["gpus"] == [0, 1, 2, 3] and len(node0["cpus"]) == 128
    assert node0["cores"][0] == [0, 128] and len(node0["cores"]) == 64  # hyperthreads from lscpu
    alice = by_name(report)["alice"]
    assert [g["index"] for g in alice["gpus"]] == [0, 1] and alice["gpus"][0]["uuid"].startswith("GPU-a100")
    assert alice["cpuset"] == "0-15,128-143" and alice["cpu_numa_nodes"] == [0] == alice["gpu_numa_nodes"]
    assert alice["memory_limit"] == "128G" and alice["disk_limit"] == "1T" and alice["ssh_port"] == 2201
    assert [g["tenant"] for g in report["gpus"]] == ["alice", "alice", None, None, "bob", "carol", None, None]
    free = dict((e["numa_node"], e) for e in report["free"]["by_numa"])
    assert free[0]["gpus"] == [2, 3] and free[0]["cpus"] == 128 - 32 - 16
    assert free[1]["gpus"] == [6, 7] and free[1]["cpus"] == 128 - 16
    assert report["free"]["gpus"] == [2, 3, 6, 7]
    assert all(link["label"] == "NV12" and link["kind"] == "nvlink" for link in report["links"]) and len(report["links"]) == 28
    # carol's GPU 5 is on node 1, her CPUs on node 0: the one warning
    assert [(w["kind"], w["tenant"]) for w in report["warnings"]] == [("numa_split", "carol")]
    assert "16-23,144-151" in report["warnings"][0]["message"] and "GPU 5" in report["warnings"][0]["message"]


def test_gpu_processes_outside_their_tenant_are_warned_about():
    topology, tenants = three_tenants_a100()
    alice, bob, _carol = tenants
    # TEST DOUBLE NVML lists: bob on his own GPU 4 (fine), alice on bob's GPU 4 and on free GPU 7,
    # and a host process (no container) on GPU 2 (not a tenant's concern).
    report = report_for(topology, tenants, processes={4: [bob.pid, alice.pid], 7: [alice.pid], 2: [99999]})
    foreign = [w for w in report["warnings"] if w["kind"] == "foreign_process"]
    assert [(w["gpu"], w["tenant"]) for w in foreign] == [(4, "alice"), (7, "alice")]
    assert "held by bob" in foreign[0]["message"] and "(free)" in foreign[1]["message"]


def test_a_process_from_a_container_that_is_no_tenant():
    topology, tenants = three_tenants_a100()
    other = {"Id": "f" * 64, "Name": "/jupyter", "Image": "sha256:1", "State": {"Running": True, "Pid": 4242},
             "Config": {"Labels": {}, "Image": "jupyter"}, "HostConfig": {}}
    stray = Tenant("stray")  # only to give the cgroup double the container's PID
    stray.id, stray.pid = "f" * 64, 4242
    from report_helpers import FakeClient, FakeCgroups, nvml_reading
    from ansible_collections.gpulab.dgx.plugins.module_utils.metrics.collect import collect
    from ansible_collections.gpulab.dgx.plugins.module_utils.report.model import build_report
    inspected = [t.attrs(topology) for t in tenants] + [other]
    snapshot = collect(FakeClient(inspected), topology, nvml_reading(topology, {0: [4242]}), FakeCgroups(tenants + [stray]), False)
    report = build_report(topology, snapshot, "h")
    (warning,) = [w for w in report["warnings"] if w["kind"] == "foreign_process"]
    assert warning["gpu"] == 0 and warning["tenant"] is None and "not a tenant" in warning["message"]
    assert len(report["tenants"]) == 3  # the other container is not a tenant


def test_real_eight_node_a100_sample_and_gpus_given_by_index():
    topology = a100_topology()
    report = report_for(topology, [Tenant("alice", [0, 1], list(range(48, 56)), by_index=True),
                                   Tenant("bob", [2], list(range(48, 52)))])
    assert len(report["numa_nodes"]) == 8 and report["host"]["cpus"]["total"] == 256
    assert dict((n["id"], n["gpus"]) for n in report["numa_nodes"]) == {0: [], 1: [2, 3], 2: [], 3: [0, 1], 4: [], 5: [6, 7], 6: [], 7: [4, 5]}
    kinds = sorted((w["kind"], w["tenant"]) for w in report["warnings"])
    # bob's GPU 2 is on node 1 and his CPUs on node 3; he shares CPUs 48-51 with alice
    assert kinds == [("numa_split", "bob"), ("shared_cpu", None)]
    assert "48-51" in [w for w in report["warnings"] if w["kind"] == "shared_cpu"][0]["message"]


def test_sixteen_gpus_a_gone_gpu_and_a_parked_container():
    topology = sixteen_gpu_topology()
    tenants = [Tenant("a", [0, 1], [0, 1, 96, 97]), Tenant("b", [15, 99], [48, 144]),
               Tenant("c", [3], [2], parked=True)]
    report = report_for(topology, tenants)
    assert report["host"]["gpus"] == {"total": 16, "held": 4, "free": 12}
    names = by_name(report)
    assert names["c"]["parked"] is True and [g["index"] for g in names["c"]["gpus"]] == [3]
    assert [g["index"] for g in names["b"]["gpus"]] == [15, None]
    assert any(w["kind"] == "unknown_gpu" and w["tenant"] == "b" for w in report["warnings"])
    assert len(report["links"]) == 120


def test_a_gpu_held_twice_is_warned_about():
    topology = a100_two_node_topology()
    report = report_for(topology, [Tenant("x", [4], [64]), Tenant("y", [4], [65])])
    gpu4 = report["gpus"][4]
    assert gpu4["tenants"] == ["x", "y"] and gpu4["tenant"] == "x"
    assert [w["gpu"] for w in report["warnings"] if w["kind"] == "shared_gpu"] == [4]


def test_two_tenants_on_mig_instances_of_one_gpu():
    topology, _tenants = three_tenants_a100()
    gpu = topology["gpus"][6]
    gpu["mig_mode"] = "Enabled"
    gpu["mig_instances"] = [{"profile": "3g.40gb", "gi": g, "ci": 0, "uuid": "MIG-%08d-0000-5000-8000-000000000000" % g,
                             "memory_mib": 40192} for g in (1, 2)]
    tenants = [Tenant("dora", gpus=[gpu["mig_instances"][0]["uuid"]], cpus=range(64, 72), port=2210),
               Tenant("eve", gpus=[gpu["mig_instances"][1]["uuid"]], cpus=range(72, 80), port=2211)]
    report = report_for(topology, tenants)
    json.dumps(report)
    dora, eve = by_name(report)["dora"], by_name(report)["eve"]
    assert [g["index"] for g in dora["gpus"]] == [6] == [g["index"] for g in eve["gpus"]]
    assert dora["mig"] == [{"gpu": 6, "profile": "3g.40gb", "gi": 1, "uuid": gpu["mig_instances"][0]["uuid"]}]
    assert eve["mig"][0]["gi"] == 2
    assert 6 not in report["free"]["gpus"]
