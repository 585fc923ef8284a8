#!/usr/bin/env bash
# Boot the fresh-DGX test-bed VM and write an inventory for it.
#
#   scripts/vm/boot.sh        build/find the cached image, boot a clean overlay of it, wait for SSH
#
# The VM stands for a freshly installed DGX-A100: a Debian 12 root disk (a copy-on-write
# overlay of the cached image, made anew on every boot), four blank NVMe drives (the data
# drives that become the raid0 array), two NUMA nodes with two vCPUs each, and SSH on a
# loopback port. qemu runs with TCG (KVM hangs guests on our machines).
#
# Environment (all optional):
#   GPULAB_VM_RUN       run directory (default .cache/vm/run): overlay, disks, pidfile, inventory
#   GPULAB_VM_SSH_PORT  loopback port for SSH (default: a free port)
#   GPULAB_VM_MEM       guest memory in MiB, split over the NUMA nodes (default 3072)
#   GPULAB_VM_DISK_SIZE size of each blank NVMe drive (default 4G, sparse)
#   GPULAB_VM_BOOT_TIMEOUT seconds to wait for SSH (default 300)
#   GPULAB_VM_ACCEL     qemu accelerator (default tcg,thread=multi)
#   GPULAB_VM_NICE      a nice value for qemu (e.g. -10 while other tests run beside the VM; default: none)
# Writes $GPULAB_VM_RUN/inventory/ (hosts.yml + group_vars) and $GPULAB_VM_RUN/ssh_config.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RUN="${GPULAB_VM_RUN:-$REPO/.cache/vm/run}"
MEM="${GPULAB_VM_MEM:-3072}"
DISK_SIZE="${GPULAB_VM_DISK_SIZE:-4G}"
BOOT_TIMEOUT="${GPULAB_VM_BOOT_TIMEOUT:-300}"
ACCEL="${GPULAB_VM_ACCEL:-tcg,thread=multi}"
CPU="${GPULAB_VM_CPU:-qemu64}"
log() { echo "vm-boot: $*" >&2; }

# One VM per run directory: refuse to start a second one over a live one.
if "$HERE/stop.sh" --running "$RUN"; then
  log "a VM started from $RUN is already running (pid $(cat "$RUN/qemu.pid")); scripts/vm/stop.sh stops it"
  exit 1
fi

IMAGE="$("$HERE/build-image.sh")"
# Drop images of older keys that no running qemu still reads (each is about 1 GiB on disk).
for old in "$(dirname "$IMAGE")"/*/; do
  old="${old%/}"
  [ "$old" = "$IMAGE" ] && continue
  grep -qsF "$old/" /proc/[0-9]*/cmdline || rm -rf "$old"
done
mkdir -p "$RUN"
RUN="$(cd "$RUN" && pwd)"
rm -rf "$RUN/overlay.qcow2" "$RUN"/nvme*.img "$RUN/console.log" "$RUN/inventory" "$RUN/qemu.pid"

# A clean copy-on-write overlay of the cached image, and four blank drives.
qemu-img create -q -f qcow2 -b "$IMAGE/disk.img" -F raw "$RUN/overlay.qcow2"
for i in 0 1 2 3; do
  truncate -s "$DISK_SIZE" "$RUN/nvme$i.img"
done
install -m 0600 "$IMAGE/id_ed25519" "$RUN/id_ed25519"
# TEST-DOUBLE NVIDIA packages for the nvidia_container_toolkit role's local_debs source
# (the VM cannot reach NVIDIA's repository and has no GPU).
rm -rf "$RUN/nvidia-debs"
"$REPO/tests/doubles/nvidia_packages/build.sh" "$RUN/nvidia-debs" >/dev/null
VM_USER="$(cat "$IMAGE/user")"

PORT="${GPULAB_VM_SSH_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
half=$(( MEM / 2 ))

args=(
  -name gpulab-dgx-vm
  -machine q35 -accel "$ACCEL" -cpu "$CPU"
  -m "$MEM" -smp "4,sockets=2,cores=2,threads=1"
  -object "memory-backend-ram,id=mem0,size=${half}M"
  -object "memory-backend-ram,id=mem1,size=$(( MEM - half ))M"
  -numa "node,nodeid=0,cpus=0-1,memdev=mem0"
  -numa "node,nodeid=1,cpus=2-3,memdev=mem1"
  -numa "dist,src=0,dst=1,val=21"
  -kernel "$IMAGE/vmlinuz" -initrd "$IMAGE/initrd.img"
  -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet"
  -drive "file=$RUN/overlay.qcow2,format=qcow2,if=virtio,cache=unsafe"
  -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$PORT-:22"
  -device "virtio-net-pci,netdev=net0"
  -display none -serial "file:$RUN/console.log"
  -monitor "unix:$RUN/monitor.sock,server,nowait"
  -pidfile "$RUN/qemu.pid" -daemonize
)
# The four blank data drives, as NVMe controllers like a DGX-A100's (serials GPULABNVME0..3).
for i in 0 1 2 3; do
  args+=(-drive "file=$RUN/nvme$i.img,format=raw,if=none,id=nvme$i,cache=unsafe"
         -device "nvme,drive=nvme$i,serial=GPULABNVME$i")
done

start=$(date +%s)
qemu-system-x86_64 "${args[@]}"
log "qemu started (pid $(cat "$RUN/qemu.pid")), SSH on 127.0.0.1:$PORT; waiting for the guest"
if [ -n "${GPULAB_VM_NICE:-}" ]; then
  # Only this VM's qemu, by the pid it wrote: the emulated guest keeps its pace beside other tests.
  renice -n "$GPULAB_VM_NICE" -p "$(cat "$RUN/qemu.pid")" >/dev/null
fi

cat > "$RUN/ssh_config" <<CFG
Host gpulab-dgx-vm
  HostName 127.0.0.1
  Port $PORT
  User $VM_USER
  IdentityFile $RUN/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  ConnectTimeout 5
CFG

# Inventory: the template's host entry with this run's port and key, plus the VM's group_vars.
mkdir -p "$RUN/inventory"
sed -e "s|@PORT@|$PORT|g" -e "s|@KEY@|$RUN/id_ed25519|g" -e "s|@USER@|$VM_USER|g" \
    -e "s|@RUN@|$RUN|g" "$REPO/inventories/vm/hosts.yml.in" > "$RUN/inventory/hosts.yml"
cp -r "$REPO/inventories/vm/group_vars" "$RUN/inventory/"

"$HERE/wait-ssh.sh" "$RUN" "$BOOT_TIMEOUT"
log "guest ready after $(( $(date +%s) - start )) s; inventory: $RUN/inventory/hosts.yml"
log "ssh: ssh -F $RUN/ssh_config gpulab-dgx-vm"
