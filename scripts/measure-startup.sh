#!/usr/bin/env bash
# Time to first window and memory of the app, as recorded in BENCHMARKS.md.
#   scripts/measure-startup.sh [BINARY] [RUNS]
# Run it inside a display and a keyring, e.g.:
#   scripts/with-keyring.sh xvfb-run -a scripts/measure-startup.sh target/release/countersign 5
# Time to first window: from exec until the window is mapped (xdotool --sync).
# Memory: summed PSS (smaps_rollup) of the app and its WebKit processes, 3 s after mapping.
set -euo pipefail
bin=${1:-target/release/countersign}
runs=${2:-5}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# Summed PSS of a process and all its descendants (WebKit's helpers are children of the app).
pss_of_tree() {
  local total=0 queue=("$1") pid kb
  while [ ${#queue[@]} -gt 0 ]; do
    pid=${queue[0]}
    queue=("${queue[@]:1}")
    kb=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
    total=$((total + ${kb:-0}))
    for child in $(pgrep -P "$pid" || true); do queue+=("$child"); done
  done
  echo "$total"
}

for i in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  "$bin" --data-dir "$profile" >/dev/null 2>&1 &
  app=$!
  xdotool search --sync --onlyvisible --name '^Countersign$' >/dev/null
  mapped=$(date +%s%N)
  sleep 3
  pss=$(pss_of_tree "$app")
  kill "$app"; wait "$app" 2>/dev/null || true
  echo "run $i: first window $(( (mapped - start) / 1000000 )) ms, PSS $(( pss / 1024 )) MiB"
done
