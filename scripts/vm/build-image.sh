#!/usr/bin/env bash
# Build (or find in the cache) the Debian 12 image of the fresh-DGX test-bed VM.
#
#   scripts/vm/build-image.sh          print the image directory; build it first when missing
#
# The image holds what a freshly installed DGX OS ships (see guest-packages.txt), an admin
# user `gpuadmin` with passwordless sudo and an SSH key made for this image. It is cached
# under $GPULAB_VM_CACHE (default .cache/vm) in a directory named by a content key computed
# from this script, the package list, the suite and the mirror: when the key is unchanged
# the build is skipped. The image is never booted directly: boot.sh boots a copy-on-write
# overlay of it, so the cached image stays clean.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${GPULAB_VM_CACHE:-$REPO/.cache/vm}"
SUITE="${GPULAB_VM_SUITE:-bookworm}"
MIRROR="${GPULAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ROOT_SIZE="${GPULAB_VM_ROOT_SIZE:-16G}"
VM_USER=gpuadmin

PKGS="$(grep -v '^#' "$HERE/guest-packages.txt" | xargs | tr ' ' ',')"
KEY="$(cat "$HERE/build-image.sh" "$HERE/guest-packages.txt" <(echo "$SUITE $MIRROR $ROOT_SIZE") \
        | sha256sum | cut -c1-16)"
IMAGE="$CACHE/images/$KEY"

if [ -f "$IMAGE/.complete" ]; then
  echo "$IMAGE"
  exit 0
fi

log() { echo "vm-image: $*" >&2; }
for tool in debootstrap mkfs.ext4 ssh-keygen; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run scripts/setup-system.sh"; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { log "debootstrap and mkfs.ext4 -d need root"; exit 1; }

mkdir -p "$CACHE/images"
WORK="$(mktemp -d "$CACHE/images/.build.XXXXXX")"
ROOTFS="$WORK/rootfs"
# A failed debootstrap can leave the chroot's /proc (and the like) mounted. remove_tree unmounts
# whatever is mounted under a directory, then removes it; it never removes through a mount.
mounts_under() { awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r; }
remove_tree() {
  local m
  mounts_under "$1" | while read -r m; do umount -l "$m" || true; done
  if [ -n "$(mounts_under "$1")" ]; then
    log "something is still mounted under $1: left in place"
    return 1
  fi
  rm -rf "$1"
}
cleanup() { remove_tree "$WORK" || true; }
trap cleanup EXIT
start=$(date +%s)
log "debootstrap $SUITE with a kernel into $ROOTFS (about 2-3 min)"
# One more try after a failure (a mirror hiccup): the first attempt's mounts and files go first.
for attempt in 1 2; do
  if debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    break
  fi
  tail -n 30 "$WORK/debootstrap.log" >&2
  [ "$attempt" -eq 1 ] || { log "debootstrap failed twice"; exit 1; }
  log "debootstrap failed (log above); trying once more"
  remove_tree "$ROOTFS"
done

# --- system configuration of the guest
echo "gpulab-dgx-vm" > "$ROOTFS/etc/hostname"
cat > "$ROOTFS/etc/hosts" <<HOSTS
127.0.0.1 localhost
127.0.1.1 gpulab-dgx-vm
HOSTS
echo "/dev/vda / ext4 defaults,errors=remount-ro 0 1" > "$ROOTFS/etc/fstab"
echo "deb $MIRROR $SUITE main" > "$ROOTFS/etc/apt/sources.list"
echo "deb $MIRROR $SUITE-updates main" >> "$ROOTFS/etc/apt/sources.list"
# qemu's user network: DHCP on eth0 (net.ifnames=0), DNS at 10.0.2.3.
mkdir -p "$ROOTFS/etc/systemd/network"
cat > "$ROOTFS/etc/systemd/network/eth0.network" <<NET
[Match]
Name=eth0

[Network]
DHCP=ipv4
NET
ln -sf /lib/systemd/system/systemd-networkd.service \
  "$ROOTFS/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
rm -f "$ROOTFS/etc/resolv.conf"
echo "nameserver 10.0.2.3" > "$ROOTFS/etc/resolv.conf"
# A fresh machine-id on every boot of a fresh overlay.
: > "$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id"
# Console on the serial port, so boot problems land in console.log.
ln -sf /lib/systemd/system/serial-getty@.service \
  "$ROOTFS/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"

# qemu boots the kernel and initrd kept beside the image (-kernel/-initrd), never the guest's
# /boot, so regenerating the initrd inside the guest (the storage role's handler does) would
# cost about 10 minutes under TCG for a file nothing reads: switch it off in the test bed.
sed -i 's/^update_initramfs=.*/update_initramfs=no/' "$ROOTFS/etc/initramfs-tools/update-initramfs.conf"
# On a real host that regeneration puts the array's ARRAY line into the initrd, which then
# assembles it under its configured name. Our initrd is frozen here, before any array exists:
# with mdadm's hook it would assemble the array under a default name (md127). So it is built
# without that hook, and the array is assembled after the switch to the root disk by udev with
# the guest's /etc/mdadm/mdadm.conf, under the name the role recorded there, as on a host whose
# initrd was regenerated (the reboot test checks the name).
chmod -x "$ROOTFS/usr/share/initramfs-tools/hooks/mdadm"
mount -t proc proc "$ROOTFS/proc"
kver="$(basename "$(readlink -f "$ROOTFS/vmlinuz")")"
kver="${kver#vmlinuz-}"
chroot "$ROOTFS" mkinitramfs -o "/boot/initrd.img-$kver" "$kver" >"$WORK/initramfs.log" 2>&1 \
  || { umount "$ROOTFS/proc"; tail -n 20 "$WORK/initramfs.log" >&2; exit 1; }
umount "$ROOTFS/proc"
chmod +x "$ROOTFS/usr/share/initramfs-tools/hooks/mdadm"

# --- the admin account Ansible uses (key made for this image, kept beside it)
ssh-keygen -q -t ed25519 -N '' -C "gpulab-vm-$KEY" -f "$WORK/id_ed25519"
chroot "$ROOTFS" useradd -m -s /bin/bash -G sudo "$VM_USER"
echo "$VM_USER ALL=(ALL) NOPASSWD:ALL" > "$ROOTFS/etc/sudoers.d/$VM_USER"
chmod 0440 "$ROOTFS/etc/sudoers.d/$VM_USER"
install -d -m 0700 "$ROOTFS/home/$VM_USER/.ssh"
install -m 0600 "$WORK/id_ed25519.pub" "$ROOTFS/home/$VM_USER/.ssh/authorized_keys"
chroot "$ROOTFS" chown -R "$VM_USER:$VM_USER" "/home/$VM_USER/.ssh"
echo "UseDNS no" > "$ROOTFS/etc/ssh/sshd_config.d/gpulab-vm.conf"

# --- kernel and initrd are booted directly by qemu (-kernel/-initrd)
cp "$(readlink -f "$ROOTFS"/vmlinuz)" "$WORK/vmlinuz"
cp "$(readlink -f "$ROOTFS"/initrd.img)" "$WORK/initrd.img"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*

log "mkfs.ext4 -d rootfs disk.img $ROOT_SIZE"
mkfs.ext4 -q -L gpulab-root -d "$ROOTFS" "$WORK/disk.img" "$ROOT_SIZE" >&2
rm -rf "$ROOTFS" "$WORK/debootstrap.log"
echo "$VM_USER" > "$WORK/user"
date -u +%FT%TZ > "$WORK/.complete"
rm -rf "$IMAGE"
mv "$WORK" "$IMAGE"
trap - EXIT
log "built $IMAGE in $(( $(date +%s) - start )) s"
echo "$IMAGE"
