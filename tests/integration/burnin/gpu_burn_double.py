"""TEST DOUBLE of gpu-burn (github.com/wilicc/gpu-burn), copied into a local image by
tests/integration/burnin/burnin_helpers.py. It is not gpu-burn and touches no GPU: it prints gpu-burn's
output format for the GPUs in NVIDIA_VISIBLE_DEVICES (as the NVIDIA runtime sets it), for as many seconds
as it is told, marking FAULTY the UUIDs listed in /etc/gpu-burn-double/faulty, and exits 0 as gpu-burn does."""
import os
import sys
import time

uuids = [u for u in os.environ.get("NVIDIA_VISIBLE_DEVICES", "").split(",") if u and u != "void"]
seconds = int(sys.argv[-1])
try:
    with open("/etc/gpu-burn-double/faulty") as handle:
        faulty = set(handle.read().split())
except OSError:
    faulty = set()
if not uuids:
    sys.stderr.write("No CUDA devices\n")
    sys.exit(19)
for i, uuid in enumerate(uuids):
    print("GPU %d: TEST DOUBLE GPU (UUID: %s)" % (i, uuid))
print("Burning for %d seconds." % seconds)
start = time.monotonic()
done = 0
while True:
    elapsed = min(100.0, (time.monotonic() - start) / seconds * 100)
    done += 1
    procd = "- ".join("%d (%d Gflop/s) " % (done * 100, 18800 + 10 * i) for i in range(len(uuids)))
    errors = "- ".join(("3  (WARNING!)" if u in faulty else "0 ") for u in uuids)
    temps = "- ".join("%d C " % (60 + i) for i in range(len(uuids)))
    sys.stdout.write("\r%.1f%%  proc'd: %s  errors: %s  temps: %s" % (elapsed, procd, errors, temps))
    sys.stdout.flush()
    if elapsed >= 100.0:
        break
    time.sleep(1)  # the stand-in's own pace, as gpu-burn reports about once a second
print("\nKilling processes with SIGTERM (soft kill)\ndone\n\nTested %d GPUs:" % len(uuids))
for i, uuid in enumerate(uuids):
    print("\tGPU %d: %s" % (i, "FAULTY" if uuid in faulty else "OK"))
