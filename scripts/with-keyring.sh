#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with a fresh gnome-keyring, unlocked with a
# throwaway password: the real Secret Service, without touching the user's own keyring.
#   scripts/with-keyring.sh cargo test
set -euo pipefail
if [ -n "${COUNTERSIGN_IN_KEYRING:-}" ]; then exec "$@"; fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/countersign-keyring.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# A fresh keyring directory per run, so every run starts empty.
export XDG_DATA_HOME="$scratch/data"
export XDG_RUNTIME_DIR="$scratch/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
export COUNTERSIGN_IN_KEYRING=1

dbus-run-session -- bash -c '
  eval "$(printf countersign-test | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
  exec "$@"
' bash "$@"
