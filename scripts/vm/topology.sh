#!/usr/bin/env bash
# Give the test-bed VM a DGX-A100's GPU topology, on the guest's own NUMA nodes and CPUs.
#   scripts/vm/topology.sh [RUN_DIR] [FIXTURE]
# The guest has no GPU. Its topology for tenant placement is made from a real DGX-A100's
# `nvidia-smi topo -m` (FIXTURE, default tests/unit/fixtures/topologies/dgx-a100-epyc7742.txt):
#   1. `lscpu -p` is read from the guest;
#   2. map_topology.py rewrites the GPU rows' CPU/NUMA affinity onto the guest's two nodes;
#   3. gpulab.dgx.gpu_info runs on the guest with that text and the guest's lscpu, and its
#      topology is written to RUN_DIR/inventory/host_vars/gpulab-dgx-vm/tenant_topology.yml
#      as `tenant_topology`, which the tenant role hands to gpulab.dgx.tenant.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RUN="$(cd "${1:-${GPULAB_VM_RUN:-$REPO/.cache/vm/run}}" && pwd)"
FIXTURE="${2:-$REPO/tests/unit/fixtures/topologies/dgx-a100-epyc7742.txt}"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$REPO/.collections}"

ssh -F "$RUN/ssh_config" -o BatchMode=yes gpulab-dgx-vm lscpu -p > "$RUN/guest-lscpu-p.txt"
python3 "$HERE/map_topology.py" "$FIXTURE" "$RUN/guest-lscpu-p.txt" > "$RUN/dgx-a100-on-vm.topo.txt"
mkdir -p "$RUN/inventory/host_vars/gpulab-dgx-vm"
ansible-playbook -i "$RUN/inventory" "$HERE/topology.yml" \
  -e "gpulab_vm_topo_file=$RUN/dgx-a100-on-vm.topo.txt" \
  -e "gpulab_vm_lscpu_file=$RUN/guest-lscpu-p.txt" \
  -e "gpulab_vm_topology_out=$RUN/inventory/host_vars/gpulab-dgx-vm/tenant_topology.yml" >"$RUN/topology.log" \
  || { tail -n 30 "$RUN/topology.log" >&2; exit 1; }
echo "vm-topology: DGX-A100 topology mapped onto the guest: $RUN/inventory/host_vars/gpulab-dgx-vm/tenant_topology.yml" >&2
