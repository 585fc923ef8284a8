#!/bin/sh
# gpulab-check: check a tenant image or container (installed by gpulab.dgx.tenant_image).
#   gpulab-check            SSH configuration, nvidia-smi, and a matrix multiply on the GPU
#                           when torch or cupy is installed
#   gpulab-check --no-gpu   SSH configuration only (for hosts or builds without a GPU)
# Prints one "ok:" or "FAIL:" line per check; exits 1 when any check failed.
set -u
rc=0
gpu=1
for arg in "$@"; do
  case "$arg" in
    --no-gpu) gpu=0 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "gpulab-check: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; rc=1; }

# sshd: syntax and effective settings, with a throwaway host key (images hold none).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -d /run/sshd ] || mkdir -p /run/sshd 2>/dev/null || true
if ! ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key" >/dev/null 2>&1; then
  fail "ssh-keygen is missing or broken"
elif ! /usr/sbin/sshd -t -h "$tmp/host_key" 2>"$tmp/err"; then
  fail "sshd -t rejects /etc/ssh/sshd_config: $(cat "$tmp/err")"
else
  ok "sshd configuration is valid"
  settings=$(/usr/sbin/sshd -T -h "$tmp/host_key" 2>/dev/null)
  for want in "passwordauthentication no" "permitrootlogin without-password" \
              "kbdinteractiveauthentication no" "pubkeyauthentication yes"; do
    key=${want%% *}
    if echo "$settings" | grep -qx "$want"; then
      ok "sshd $want"
    elif echo "$settings" | grep -q "^$key "; then
      fail "sshd $(echo "$settings" | grep "^$key ") (want: $want)"
    elif [ "$key" != kbdinteractiveauthentication ]; then
      fail "sshd does not report $key (want: $want)"
    fi
  done
fi

if [ "$gpu" -eq 1 ]; then
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    fail "nvidia-smi not found: the container has no GPU driver mounted (run it with --gpus, or use --no-gpu)"
  elif ! nvidia-smi -L >"$tmp/smi" 2>&1; then
    fail "nvidia-smi failed: $(cat "$tmp/smi")"
  else
    ok "nvidia-smi sees $(grep -c '^GPU ' "$tmp/smi") GPU(s)"
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import torch' >/dev/null 2>&1; then
      lib=torch
    elif command -v python3 >/dev/null 2>&1 && python3 -c 'import cupy' >/dev/null 2>&1; then
      lib=cupy
    else
      lib=""
      ok "neither torch nor cupy is installed: GPU matrix multiply skipped"
    fi
    if [ -n "$lib" ]; then
      if python3 - "$lib" <<'PY'
import sys

lib = sys.argv[1]
n = 2048
if lib == "torch":
    import torch
    if not torch.cuda.is_available():
        print("FAIL: torch sees no CUDA device")
        sys.exit(1)
    torch.manual_seed(0)
    a = torch.rand(n, n, device="cuda")
    b = torch.rand(n, n, device="cuda")
    got = (a @ b).cpu().double()
    want = a.cpu().double() @ b.cpu().double()
    err = float(((got - want).abs().max() / want.abs().max()).item())
    name = torch.cuda.get_device_name(0)
else:
    import cupy
    import numpy
    a = cupy.random.rand(n, n, dtype=cupy.float32)
    b = cupy.random.rand(n, n, dtype=cupy.float32)
    got = cupy.asnumpy(a @ b).astype(numpy.float64)
    want = cupy.asnumpy(a).astype(numpy.float64) @ cupy.asnumpy(b).astype(numpy.float64)
    err = float(numpy.abs(got - want).max() / numpy.abs(want).max())
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
if err > 1e-3:
    print("FAIL: %s matrix multiply on %s is off by %.2e (relative)" % (lib, name, err))
    sys.exit(1)
print("ok: %s %dx%d matrix multiply on %s (relative error %.1e)" % (lib, n, n, name, err))
PY
      then :; else rc=1; fi
    fi
  fi
fi
exit "$rc"
