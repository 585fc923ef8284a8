#!/bin/sh
# Minimal stand-in for the tenant_image role's gpulab-entrypoint, used only when that role's
# template is not in the tree: host keys, GPULAB_SSH_AUTHORIZED_KEYS -> root's authorized_keys,
# then sshd in the foreground.
set -eu
if [ "$#" -eq 0 ]; then set -- /usr/sbin/sshd -D -e; fi
case "$1" in /usr/sbin/sshd|sshd) ;; *) exec "$@" ;; esac
for type in ed25519 ecdsa; do
  [ -s "/etc/ssh/ssh_host_${type}_key" ] || ssh-keygen -q -t "$type" -N '' -f "/etc/ssh/ssh_host_${type}_key"
done
mkdir -p /run/sshd /root/.ssh
chmod 0700 /root/.ssh
if [ -n "${GPULAB_SSH_AUTHORIZED_KEYS:-}" ]; then
  (umask 077 && printf '%s\n' "$GPULAB_SSH_AUTHORIZED_KEYS" >/root/.ssh/authorized_keys)
fi
unset GPULAB_SSH_AUTHORIZED_KEYS
# SSH sessions do not inherit the container environment: keep the GPU view for them.
env | grep -E '^(PATH|NVIDIA_[A-Z0-9_]*)=' | sed -e "s/'/'\\\\''/g" -e "s/=/='/" -e "s/^/export /" -e "s/$/'/" \
  >/etc/profile.d/gpulab-env.sh
exec "$@"
