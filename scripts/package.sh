#!/usr/bin/env bash
# Builds the Linux packages (.deb and .rpm) with Tauri's bundler, offline: the bundler
# writes both formats itself. AppImage is left out because Tauri fetches linuxdeploy and
# its plugins from GitHub to make one.
#   scripts/package.sh    # release build in $CARGO_TARGET_DIR (default: target),
#                         # packages in <that directory>/packages/
# Prints the paths of the packages it made, one a line, on the last lines of its output.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# JSON is handled with node, which the front end needs anyway.
target_dir=$(cargo metadata --format-version 1 --no-deps |
  node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).target_directory')
release="$target_dir/release"

# The front end is embedded in the app binary, so it is built first. One cargo invocation for
# both binaries: shared dependencies are compiled once, with one feature set.
npm --prefix ui run build
cargo build --release -p countersign -p countersign-cli

scratch=$(mktemp -d "${TMPDIR:-/tmp}/countersign-package.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# Dependencies come from what the binaries link, never from a hand-kept list. The tray icon
# loads libayatana-appindicator3 with dlopen, so no linker records it: it is added by name.
# (Tauri's CLI would add it itself, but cannot see the tray-icon feature through workspace
# inheritance.)
# Debian: dpkg-shlibdeps maps every NEEDED library to its package and minimum version.
mkdir -p "$scratch/debian/countersign/DEBIAN" "$scratch/debian/countersign/usr/bin"
printf 'Source: countersign\n\nPackage: countersign\nArchitecture: any\n' >"$scratch/debian/control"
cp "$release/countersign" "$release/countersign-cli" "$scratch/debian/countersign/usr/bin/"
deb_depends=$(cd "$scratch" && dpkg-shlibdeps -O debian/countersign/usr/bin/countersign \
  debian/countersign/usr/bin/countersign-cli | sed 's/^shlibs:Depends=//')
deb_depends="$deb_depends, libayatana-appindicator3-1"

# RPM: the shared-object names and glibc symbol versions, as rpmbuild's generator writes them.
# Tauri's CLI always adds the webkit2gtk and gtk3 ones, so they are not listed twice.
rpm_requires=$(for bin in "$release/countersign" "$release/countersign-cli"; do
  readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1()(64bit)/p'
  readelf -V --wide "$bin" | awk '
    /File: / { for (i = 1; i <= NF; i++) if ($i == "File:") file = $(i + 1) }
    /Name: / { for (i = 1; i <= NF; i++) if ($i == "Name:") print file "(" $(i + 1) ")(64bit)" }'
  echo 'libayatana-appindicator3.so.1()(64bit)'
done | grep -v -E '^(libwebkit2gtk-4\.1\.so\.0|libgtk-3\.so\.0)\(\)' | sort -u |
  node -e 'console.log(JSON.stringify(require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean)))')

# What depends on this build (where cargo put the CLI, what the binaries link) is merged into
# tauri.conf.json here rather than written there.
overlay=$(CLI="$release/countersign-cli" RPM_REQUIRES="$rpm_requires" node -p '
  const cli = process.env.CLI;
  JSON.stringify({ bundle: { linux: {
    deb: { files: { "/usr/bin/countersign-cli": cli } },
    rpm: {
      depends: JSON.parse(process.env.RPM_REQUIRES),
      recommends: ["gnome-keyring"],
      files: { "/usr/bin/countersign-cli": cli },
    },
  } } })')

rm -rf "$release/bundle/deb" "$release/bundle/rpm"
npx --prefix ui tauri bundle --bundles deb,rpm --config "$overlay" --ci

# The .deb is finished with dpkg-deb: Tauri compresses with gzip (about 12 MB) where xz makes
# it about 8 MB, and writes a Depends without versions for the libraries it always adds. The
# files and md5sums stay as Tauri made them.
out="$target_dir/packages"
rm -rf "$out" && mkdir -p "$out"
tauri_deb=$(ls "$release"/bundle/deb/*.deb)
dpkg-deb -R "$tauri_deb" "$scratch/deb"
tauri_control="$scratch/tauri-control"
mv "$scratch/deb/DEBIAN/control" "$tauri_control"
# Secrets live in a Secret Service; desktops ship one of these.
recommends="gnome-keyring | libkf5wallet-bin | keepassxc"
awk -v depends="$deb_depends" -v recommends="$recommends" '
  /^(Depends|Recommends): / { next }
  /^Description: / { print "Depends: " depends; print "Recommends: " recommends }
  { print }' "$tauri_control" >"$scratch/deb/DEBIAN/control"
# Debian's file name: package_version_architecture.deb
dpkg-deb --root-owner-group -Zxz -b "$scratch/deb" "$out" >/dev/null
tauri_rpm=$(ls "$release"/bundle/rpm/*.rpm)
cp "$tauri_rpm" "$out/$(basename "$tauri_rpm" | sed 's/^Countersign-/countersign-/')"
ls -1 "$out"/*
