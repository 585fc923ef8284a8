#!/usr/bin/env bash
# `make demo`: a fresh DGX-A100 stand-in brought up and shared out, end to end, on a VM.
#   scripts/vm/demo.sh        boot, site.yml, tenant.yml with two example tenants; leave it running
#   scripts/vm/demo.sh stop   stop the demo VM (`make demo-stop`)
# Everything lives in $GPULAB_DEMO_RUN (default .cache/vm/demo): the VM's overlay and disks,
# its inventory, the example tenants' SSH key, the handoff notes and the playbook logs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RUN="${GPULAB_DEMO_RUN:-$REPO/.cache/vm/demo}"
export GPULAB_VM_RUN="$RUN"
export PATH="$REPO/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$REPO/.collections}"
export ANSIBLE_ROLES_PATH="${ANSIBLE_ROLES_PATH:-$REPO/roles}"
export ANSIBLE_NOCOLOR=1
IMAGE=gpulab/debian12:latest

if [ "${1:-}" = stop ]; then
  exec "$HERE/stop.sh" "$RUN"
fi

say() { printf '\n==> %s\n' "$*"; }
start=$(date +%s)
step() {  # step NAME LOGFILE COMMAND...: run quietly into a log, say how long it took
  local name="$1" log="$2"; shift 2
  local t0; t0=$(date +%s)
  if ! "$@" >"$log" 2>&1; then
    echo "demo: $name failed; the end of $log:" >&2
    tail -n 40 "$log" >&2
    echo "demo: the VM is still running for you to look at; make demo-stop ends it" >&2
    exit 1
  fi
  echo "    done in $(( $(date +%s) - t0 )) s (log: ${log#"$REPO"/})"
}

docker image inspect "$IMAGE" >/dev/null 2>&1 \
  || { echo "demo: the tenant image $IMAGE is missing on this machine: run make setup" >&2; exit 1; }

say "Booting the VM that stands for a fresh DGX-A100 (4 blank NVMe drives, 2 NUMA nodes, no GPU)"
"$HERE/boot.sh"
mkdir -p "$RUN/logs"

say "Giving it a real DGX-A100 GPU topology, mapped onto its NUMA nodes (the VM has no GPU)"
step topology "$RUN/logs/topology.log" "$HERE/topology.sh" "$RUN"

say "Bring-up: ansible-playbook playbooks/site.yml (md raid0, xfs+pquota, Docker on /raid, NVIDIA toolkit test double)"
step site.yml "$RUN/logs/site.log" ansible-playbook -i "$RUN/inventory" -e gpulab_hosts=dgx "$REPO/playbooks/site.yml"

say "Loading the base image $IMAGE into the VM's Docker (no registry here)"
step "image load" "$RUN/logs/image-load.log" bash -c \
  "docker save '$IMAGE' | ssh -F '$RUN/ssh_config' gpulab-dgx-vm sudo docker load"

say "Tenant image: ansible-playbook playbooks/images.yml (gpulab/tenant:debian12, sshd entrypoint)"
step images.yml "$RUN/logs/images.log" ansible-playbook -i "$RUN/inventory" -e gpulab_hosts=dgx \
  -e "@$REPO/inventories/vm/tenant-images.yml" "$REPO/playbooks/images.yml"

say "Tenant rollout: ansible-playbook playbooks/tenant.yml with two example tenants"
[ -f "$RUN/tenant_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C gpulab-demo-tenant -f "$RUN/tenant_ed25519"
sed "s|@PUBKEY@|$(cat "$RUN/tenant_ed25519.pub")|" "$REPO/inventories/vm/demo-tenants.yml.in" > "$RUN/demo-tenants.yml"
step tenant.yml "$RUN/logs/tenant.log" ansible-playbook -i "$RUN/inventory" -e gpulab_hosts=dgx "$REPO/playbooks/tenant.yml" \
  -e "@$RUN/demo-tenants.yml" -e "tenant_handoff_dir=$RUN/handoff"

# Each tenant's SSH port is published on the VM; forward the same port here so the handoff
# note's `ssh -p PORT root@127.0.0.1` works from this machine.
ssh_q() { ssh -F "$RUN/ssh_config" gpulab-dgx-vm "$@"; }
ports=$(ssh_q "sudo docker ps --filter label=gpulab.tenant --format '{{.Ports}}'" | sed -n 's/.*:\([0-9]*\)->22\/tcp.*/\1/p' | sort -u)
forwarded=true
# shellcheck disable=SC2086
python3 "$HERE/hostfwd.py" "$RUN" $ports || forwarded=false

for note in "$RUN"/handoff/*.md; do
  say "Handoff note: ${note#"$REPO"/}"
  cat "$note"
done

say "Allocation table of the host (read from Docker's labels: the ledger)"
ssh_q "sudo docker ps -a --filter label=gpulab.tenant --format 'table {{.Names}}\t{{.Status}}\t{{.Label \"gpulab.gpus\"}}\t{{.Label \"gpulab.cpuset\"}}\t{{.Ports}}'"

cat <<EOF

==> The VM keeps running (demo took $(( $(date +%s) - start )) s). Try it:
  SSH into a tenant (the key is the example tenants' key):
$(for p in $ports; do echo "    ssh -i ${RUN#"$REPO"/}/tenant_ed25519 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p $p root@127.0.0.1"; done)
$( $forwarded || echo "  (forwarding failed; go through the VM instead: add -J gpulab-dgx-vm -F ${RUN#"$REPO"/}/ssh_config)")
  Inside: nvidia-smi is absent (no GPU here); see the note's table for nproc, cgroup and df checks.
  SSH into the VM (the DGX stand-in):  ssh -F ${RUN#"$REPO"/}/ssh_config gpulab-dgx-vm
  Run more playbooks against it:       ansible-playbook -i ${RUN#"$REPO"/}/inventory playbooks/...
  Stop it:                             make demo-stop
EOF
