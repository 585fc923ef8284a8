# shellcheck shell=sh
# Run the in-container probe (tenant-probe.sh, given as $1) in every tenant container named after
# it, one `docker exec` per tenant, at most GPULAB_PROBE_PARALLEL (default 8) at a time, in waves;
# print one JSON object {"<tenant>": <probe>, ...}.
# Runs on the GPU host as `sh -c "$(cat this file)" tenant-probe-all PROBE NAME...`.
# A tenant whose exec fails gets {"error": "..."} and the exit status is 1.
probe=$1
shift
parallel=${GPULAB_PROBE_PARALLEL:-8}
case $parallel in ''|*[!0-9]*|0) parallel=8 ;; esac
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
i=0
for name do
  i=$((i + 1))
  (
    docker exec "$name" sh -c "$probe" >"$dir/$i.out" 2>"$dir/$i.err"
    echo "$?" >"$dir/$i.rc"
  ) &
  # A wave of $parallel execs ends before the next starts: never more docker clients at once.
  [ $((i % parallel)) -eq 0 ] && wait
done
wait
rc=0
i=0
sep='{'
for name do
  i=$((i + 1))
  if [ "$(cat "$dir/$i.rc" 2>/dev/null)" = 0 ] && [ -s "$dir/$i.out" ]; then
    printf '%s"%s": %s' "$sep" "$name" "$(cat "$dir/$i.out")"
  else
    rc=1
    # Only characters that need no escaping in a JSON string.
    err=$(head -c 300 "$dir/$i.err" 2>/dev/null | tr -c 'A-Za-z0-9 .,:;_/()=+-' ' ')
    printf '%s"%s": {"error": "docker exec failed: %s"}' "$sep" "$name" "$err"
  fi
  sep=', '
done
printf '}\n'
exit "$rc"
