"""TEST DOUBLE of nvidia-smi for MIG: not NVIDIA's tool, touches no GPU. It keeps a host's GPUs, their MIG
mode and their GPU/compute instances in a JSON state file (GPULAB_NVIDIA_SMI_DOUBLE_STATE, default
/var/lib/gpulab-test/nvidia-smi-state.json) across calls, and answers in the formats NVIDIA documents:

  --query-gpu=<gpulab's fields> --format=csv,noheader,nounits   the GPU list
  topo -m                                                       the link matrix (all NV12, CPU/NUMA affinity from the state)
  -L                                                            GPUs and MIG devices (as in mig-nvidia-smi-L-examples.txt)
  -i N -mig 0|1                                                 MIG mode (refused while instances exist)
  mig -i N -cgi P1,P2,... -C                                    GPU instances with their default compute instance
  mig -i N -dci / mig -i N -dgi                                 destroy all compute / GPU instances of GPU N

Every call is appended to the state's `calls`. `fail` in the state maps an argument (e.g. "-mig") to the text
printed with exit status 1 when a call has it (to show a GPU held by another client); `holder` names a file
whose existence (a client such as nvidia-persistenced running) makes a MIG mode change fail the same way.
A reboot is the caller removing every GPU's `instances` (MIG mode survives a reboot, instances do not)."""
import json
import os
import sys

STATE = os.environ.get("GPULAB_NVIDIA_SMI_DOUBLE_STATE", "/var/lib/gpulab-test/nvidia-smi-state.json")
SLICES = {"1g": 1, "2g": 2, "3g": 3, "4g": 4, "7g": 7}  # compute slices of a 7-slice A100/H100


def load():
    with open(STATE) as handle:
        return json.load(handle)


def save(state):
    tmp = STATE + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(state, handle, indent=1)
    os.replace(tmp, STATE)


def gpu_of(state, args):
    index = int(args[args.index("-i") + 1])
    for gpu in state["gpus"]:
        if gpu["index"] == index:
            return gpu
    print("No GPU found with index %d" % index)
    sys.exit(6)


def query(state):
    for gpu in state["gpus"]:
        print("%d, %s, %s, %s, 550.54.15, Enabled, %d, %s" % (
            gpu["index"], gpu["uuid"], gpu["name"], gpu["pci"], gpu["memory_mib"], "Enabled" if gpu["mig"] else "Disabled"))


def topo(state):
    n = len(state["gpus"])
    print("\t" + "\t".join("GPU%d" % i for i in range(n)) + "\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID")
    for i in range(n):
        cells = [" X " if i == j else "NV12" for j in range(n)]
        print("GPU%d\t%s\t%s\t%s\t\tN/A" % (i, "\t".join(cells), state.get("cpus", "0-1"), state.get("numa", "0")))
    print("\nLegend:\n\n  X    = Self\n  NV#  = Connection traversing a bonded set of # NVLinks")


def listing(state):
    for gpu in state["gpus"]:
        print("GPU %d: %s (UUID: %s)" % (gpu["index"], gpu["name"], gpu["uuid"]))
        for device, inst in enumerate(sorted(gpu.get("instances", []), key=lambda i: i["gi"])):
            print("  MIG %-12s Device %2d: (UUID: %s)" % (inst["profile"], device, inst["uuid"]))


def set_mode(state, args):
    gpu = gpu_of(state, args)
    on = args[args.index("-mig") + 1] == "1"
    holder = state.get("holder")  # a file that exists while a GPU client (nvidia-persistenced) runs
    if gpu.get("instances") or (holder and os.path.exists(holder)):
        print("Unable to %s MIG Mode for GPU %s: In use by another client" % ("enable" if on else "disable", gpu["pci"]))
        sys.exit(1)
    gpu["mig"] = on
    print("%s MIG Mode for GPU %s\nAll done." % ("Enabled" if on else "Disabled", gpu["pci"]))


def create(state, args):
    gpu = gpu_of(state, args)
    profiles = args[args.index("-cgi") + 1].split(",")
    if not gpu["mig"]:
        print("Unable to create a GPU instance on GPU %d using profile %s: Not Supported" % (gpu["index"], profiles[0]))
        sys.exit(1)
    instances = gpu.setdefault("instances", [])
    used = sum(SLICES[i["profile"].split(".")[0]] for i in instances)
    for profile in profiles:
        size = SLICES.get(profile.split(".")[0])
        if profile not in state.get("profiles", []) or size is None:
            print("Unable to create a GPU instance on GPU %d using profile %s: Invalid Argument" % (gpu["index"], profile))
            sys.exit(1)
        if used + size > 7:
            print("Unable to create a GPU instance on GPU %d using profile %s: Insufficient Resources" % (gpu["index"], profile))
            sys.exit(1)
        used += size
        state["serial"] = state.get("serial", 0) + 1
        gi = max([i["gi"] for i in instances] + [0]) + 1
        instances.append({"gi": gi, "ci": 0, "profile": profile,
                          "uuid": "MIG-%08x-0000-5000-8000-%012x" % (gpu["index"], state["serial"])})
        print("Successfully created GPU instance ID %2d on GPU %2d using profile MIG %s (ID %2d)" % (gi, gpu["index"], profile, 19))
        print("Successfully created compute instance ID %2d on GPU %2d GPU instance ID %2d using profile MIG %s (ID  0)"
              % (0, gpu["index"], gi, profile))


def destroy(state, args, what):
    gpu = gpu_of(state, args)
    instances = gpu.get("instances", [])
    if not instances:
        print("No %s instances found: Not Found" % what)
        sys.exit(6)
    for inst in instances:
        if what == "compute":
            print("Successfully destroyed compute instance ID %2d from GPU %2d GPU instance ID %2d" % (inst["ci"], gpu["index"], inst["gi"]))
        else:
            print("Successfully destroyed GPU instance ID %2d from GPU %2d" % (inst["gi"], gpu["index"]))
    if what == "GPU":
        gpu["instances"] = []


def main(args):
    state = load()
    state.setdefault("calls", []).append(args)
    for needle, text in (state.get("fail") or {}).items():
        if needle in args:
            save(state)
            print(text)
            sys.exit(1)
    try:
        if args and args[0].startswith("--query-gpu="):
            query(state)
        elif args[:2] == ["topo", "-m"]:
            topo(state)
        elif args == ["-L"]:
            listing(state)
        elif "-mig" in args and args[0] != "mig":
            set_mode(state, args)
        elif args[:1] == ["mig"] and "-cgi" in args:
            create(state, args)
        elif args[:1] == ["mig"] and "-dci" in args:
            destroy(state, args, "compute")
        elif args[:1] == ["mig"] and "-dgi" in args:
            destroy(state, args, "GPU")
        else:
            print("TEST DOUBLE nvidia-smi: unexpected arguments: %s" % " ".join(args))
            sys.exit(2)
    finally:
        save(state)


if __name__ == "__main__":
    main(sys.argv[1:])
