#!/usr/bin/env bash
# Installs what building, running and testing Countersign needs on Debian 12, and nothing
# twice: packages already present are skipped, so re-running costs seconds.
#   scripts/install-deps.sh build   # compile and run the app
#   scripts/install-deps.sh test    # plus Xvfb, gnome-keyring, WebDriver
set -euo pipefail
cd "$(dirname "$0")/.."

want=${1:-build}

build_packages=(
  libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
  librsvg2-dev libayatana-appindicator3-dev libxdo-dev libssl-dev build-essential
  pkg-config file
  # The app needs a Secret Service to keep secrets in; `run` starts one if none is up.
  dbus gnome-keyring libsecret-tools
)
# dbus-x11 is deliberately absent: with it, GTK starts stray D-Bus sessions.
test_packages=(
  xvfb xauth x11-utils xdotool xclip qrencode imagemagick keyutils webkit2gtk-driver
  # The package test (scripts/test-package.sh): desktop entry checks, the URL handler
  # lookup, and reading the .rpm.
  desktop-file-utils xdg-utils rpm
  python3-dbus python3-gi  # the notification stand-in of tests/ui/bench-notify.mjs
  python3-venv  # scripts/api-conformance.sh installs Schemathesis into a venv
  python3-xlib  # tests/ui/close_window.py: a window manager's close, under Xvfb
)

packages=("${build_packages[@]}")
if [ "$want" = test ]; then
  packages+=("${test_packages[@]}")
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Toolchains come from the machine: Debian 12's own rustc (1.63) and node (18) are too old.
if ! command -v cargo >/dev/null; then
  echo "error: cargo not found. Install Rust 1.89 or newer with rustup (https://rustup.rs)." >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "error: Node.js 20.19 or newer is needed for the front end (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

# Front-end packages, exactly as locked.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "==> npm ci (ui)"
  npm ci --prefix ui --no-audit --no-fund
fi

if [ "$want" = test ]; then
  if [ ! -d tests/ui/node_modules ] || [ tests/ui/package-lock.json -nt tests/ui/node_modules/.package-lock.json ]; then
    echo "==> npm ci (tests/ui)"
    npm ci --prefix tests/ui --no-audit --no-fund
  fi
  if ! command -v tauri-driver >/dev/null && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
    echo "==> cargo install tauri-driver"
    cargo install tauri-driver --locked --version "^2"
  fi
fi
