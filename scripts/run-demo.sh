#!/usr/bin/env bash
# Starts the local Verify server with its demo service and page, then the app, and stops
# the server when the app closes.
#   scripts/run-demo.sh [LISTEN_ADDR] [SERVER_DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
listen=${1:-127.0.0.1:8443}
server_data=${2:-$HOME/.local/share/countersign-verify-server}
bin=${CARGO_TARGET_DIR:-target}/debug

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "error: no display. Run this from a desktop session (or under xvfb-run to try it headless)." >&2
  exit 1
fi

log=$(mktemp "${TMPDIR:-/tmp}/verify-server.XXXXXX.log")
"$bin/verify-server" --listen "$listen" --data-dir "$server_data" --demo >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  grep -q '^listening: ' "$log" && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "error: verify-server did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if ! grep -q '^listening: ' "$log"; then
  echo "error: verify-server did not start within 10 s; its log is $log" >&2
  exit 1
fi
sed 's/^/verify-server | /' "$log"
url=$(sed -n 's/^listening: //p' "$log")
ca=$(sed -n 's/^ca: //p' "$log")
demo=$(sed -n 's/^demo: //p' "$log")
echo
echo "Demo page: ${demo:-$url/demo}  (open it in a browser to enroll this desktop)"
echo

export COUNTERSIGN_VERIFY_URL="$url/v2/"
export COUNTERSIGN_VERIFY_CA="$ca"

if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && [ ! -S "${XDG_RUNTIME_DIR:-/nonexistent}/bus" ]; then
  # No desktop session (e.g. root on a bare machine): give the app a Secret Service of its
  # own, kept in a demo folder and unlocked with a fixed demo password. Never use it for
  # real accounts; on a desktop, the app uses the session's keyring instead.
  demo_home=${COUNTERSIGN_DEMO_HOME:-$HOME/.local/share/countersign-demo}
  mkdir -p "$demo_home/keyring-data" "$demo_home/run"
  chmod 700 "$demo_home/run"
  echo "note: no D-Bus session found; using a demo keyring in $demo_home (password: countersign-demo)"
  XDG_DATA_HOME="$demo_home/keyring-data" XDG_RUNTIME_DIR="$demo_home/run" \
    dbus-run-session -- bash -c '
      eval "$(printf countersign-demo | gnome-keyring-daemon --unlock --components=secrets)"
      export GNOME_KEYRING_CONTROL
      exec "$0" --data-dir "$1"
    ' "$bin/countersign" "$demo_home/profile"
else
  "$bin/countersign"
fi
