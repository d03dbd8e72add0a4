#!/usr/bin/env bash
# The newcomer's entry point on a bare Debian 12 machine (root, or a user with sudo):
#   ./dev.sh run    build and start the local Verify server (demo) and the app
#   ./dev.sh test   install what the tests need and run all of them
# It only makes sure `make` exists, then hands over to the Makefile.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v make >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make
fi
case "${1:-}" in
  run | test) exec make "$1" ;;
  *)
    echo "usage: ./dev.sh run | test" >&2
    exit 2
    ;;
esac
