#!/usr/bin/env bash
# Installs the built .deb on this machine, as a user would, and checks what they get: the
# files, the countersign:// handler, the window, links handed to a running app, accounts that
# survive an upgrade, what remove and purge leave behind, and a reinstall after the keychain
# lost the app's secrets. The .rpm is inspected only (no RPM system to install it on).
#   scripts/test-package.sh [PACKAGE_DIR]    # default: <cargo target dir>/packages
# Needs root or sudo. It removes only the package it installed, whatever happens, and refuses
# to run where a countersign package or /usr/bin/countersign* already exists (with CI=true, on
# a throwaway machine, a leftover package is purged first instead).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PATH="$HOME/.cargo/bin:$PATH"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_get() { as_root env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0 "$@"; }
package_state() {
  local state
  state=$(dpkg-query -W -f='${db:Status-Status}' countersign 2>/dev/null) || state=not-installed
  echo "${state:-not-installed}"
}
step() { echo "==> $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

if [ "${1:-}" != --inside ]; then
  target_dir=$(cargo metadata --format-version 1 --no-deps |
    node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).target_directory')
  package_dir=$(realpath -m "${1:-$target_dir/packages}")
  if [ "$(package_state)" != not-installed ]; then
    if [ "${CI:-}" = true ]; then
      echo "note: CI=true: purging the countersign package left on this machine"
      apt_get purge countersign >/dev/null
    else
      echo "error: a countersign package is installed here ($(package_state)); this test would replace and then remove it. Remove it first (apt-get purge countersign), or run with CI=true on a throwaway machine." >&2
      exit 1
    fi
  fi
  for bin in /usr/bin/countersign /usr/bin/countersign-cli; do
    if [ -e "$bin" ]; then
      echo "error: $bin exists but belongs to no countersign package; this test would overwrite it." >&2
      exit 1
    fi
  done
  # One private keyring and display for the whole run: the keychain entries made before the
  # upgrade and the removal must still be there after them.
  exec scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x900x24" "$0" --inside "$package_dir"
fi
package_dir=$2

version=$(cargo metadata --format-version 1 --no-deps |
  node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).packages.find((p) => p.name === "countersign").version')
target_dir=$(cargo metadata --format-version 1 --no-deps |
  node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).target_directory')
verify_server="$target_dir/debug/verify-server"
deb="$package_dir/countersign_${version}_$(dpkg --print-architecture).deb"
rpm_file="$package_dir/countersign-${version}-1.$(uname -m).rpm"
[ -f "$deb" ] || fail "no package $deb: run make package first"
[ -f "$rpm_file" ] || fail "no package $rpm_file: run make package first"
[ -x "$verify_server" ] || fail "no $verify_server: run make build first"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/countersign-package-test.XXXXXX")
pids=()
installed_by_us=false
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if $installed_by_us && [ "$(package_state)" != not-installed ]; then
    apt_get purge countersign >/dev/null 2>&1 || echo "warning: could not purge countersign" >&2
  fi
  rm -rf "$scratch"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

desktop_file=/usr/share/applications/Countersign.desktop
icon_sizes=(16 32 48 64 128 256 512)
package_files=(/usr/bin/countersign /usr/bin/countersign-cli "$desktop_file"
  /usr/share/doc/countersign/copyright)
for size in "${icon_sizes[@]}"; do
  package_files+=("/usr/share/icons/hicolor/${size}x${size}/apps/countersign.png")
done

# What xdg-open and a browser would pick, from the system-wide registration alone.
scheme_handler() {
  mkdir -p "$scratch/xdg-config" "$scratch/xdg-data"
  env -u XDG_CURRENT_DESKTOP -u DESKTOP_SESSION -u KDE_FULL_SESSION \
    XDG_CONFIG_HOME="$scratch/xdg-config" XDG_DATA_HOME="$scratch/xdg-data" \
    XDG_DATA_DIRS=/usr/local/share:/usr/share \
    xdg-mime query default x-scheme-handler/countersign
}

# The current TOTP code of a base32 secret (SHA-1, 6 digits, 30 s), computed independently
# of the app.
totp() {
  node -e '
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bits = "";
    for (const c of process.argv[1].replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
    const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
    const mac = require("crypto").createHmac("sha1", key).update(counter).digest();
    const offset = mac[19] & 15;
    console.log(String((mac.readUInt32BE(offset) & 0x7fffffff) % 1e6).padStart(6, "0"));
  ' "$1"
}

# The CLI's code for an account must be the independently computed one (the 30 s step may
# turn between the two computations, so either side of it counts).
expect_code() {
  local profile=$1 account=$2 secret=$3 before actual after
  before=$(totp "$secret")
  actual=$(/usr/bin/countersign-cli --data-dir "$profile" code "$account")
  after=$(totp "$secret")
  [ "$actual" = "$before" ] || [ "$actual" = "$after" ] ||
    fail "code for $account is $actual, expected $before"
}

vault_id_of() {
  node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).vault_id' "$1/accounts.json"
}

# Keychain entries in a profile's namespace (service = countersign:<vault id>), counted from
# the item paths secret-tool prints; the secrets it also prints go no further than grep.
keychain_entries() {
  { secret-tool search --all service "countersign:$(vault_id_of "$1")" 2>&1 || true; } |
    grep -c '^\[/' || true
}

app_window_check() {
  local profile=$1 app win
  COUNTERSIGN_DATA_DIR="$profile" /usr/bin/countersign >"$scratch/app.log" 2>&1 &
  app=$!
  pids+=("$app")
  win=$(timeout 60 xdotool search --sync --all --onlyvisible --pid "$app" --name '^Countersign$' | head -1) ||
    fail "the installed app showed no window within 60 s: $(tail -5 "$scratch/app.log")"
  [ "$(readlink "/proc/$app/exe")" = /usr/bin/countersign ] || fail "the window is not the installed app's"
  echo "    window $win of /usr/bin/countersign (pid $app)"
  sleep 3
  kill -0 "$app" 2>/dev/null || fail "the installed app quit after showing its window: $(tail -5 "$scratch/app.log")"
  kill "$app"
  wait "$app" 2>/dev/null || true
}

step "package metadata ($deb)"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = countersign ] || fail "Package is $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version is $(field Version), the workspace says $version"
for name in Maintainer Homepage Section Description Installed-Size; do
  [ -n "$(field "$name")" ] || fail "no $name field"
done
depends=$(field Depends)
echo "    Depends: $depends"
for needed in libwebkit2gtk-4.1-0 libgtk-3-0 libsoup-3.0-0 libayatana-appindicator3-1; do
  grep -qE "(^|, )$needed( |,|$)" <<<"$depends" || fail "Depends lacks $needed"
done
depend_names=$(tr ',' '\n' <<<"$depends" | awk '{ print $1 }')
[ -z "$(sort <<<"$depend_names" | uniq -d)" ] || fail "Depends names a package twice"
# Nothing superfluous: every dependency ships a library a binary links, except the tray
# library, which is loaded at run time.
dpkg-deb -x "$deb" "$scratch/unpacked"
sonames=$(for bin in "$scratch"/unpacked/usr/bin/*; do
  readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
done | sort -u)
soname_pattern="/($(paste -sd'|' <<<"$sonames" | sed 's/\./\\./g'))$"
for name in $depend_names; do
  [ "$name" = libayatana-appindicator3-1 ] && continue
  grep -qE "$soname_pattern" <<<"$(dpkg -L "$name")" ||
    fail "Depends names $name, which ships no library the binaries link"
done
deb_files=$(dpkg-deb -c "$deb" | awk '$1 ~ /^-/ { print substr($6, 2) }' | sort)
[ "$deb_files" = "$(printf '%s\n' "${package_files[@]}" | sort)" ] ||
  fail "unexpected files in the .deb: $(diff <(echo "$deb_files") <(printf '%s\n' "${package_files[@]}" | sort))"
deb_size=$(stat -c %s "$deb")
echo "    .deb: $deb_size bytes, installed size $(field Installed-Size) KiB"
[ "$deb_size" -le 10000000 ] || fail ".deb is $deb_size bytes, over the 10 MB target"

step "rpm contents and requirements ($rpm_file)"
rpm_info=$(rpm -qp --qf '%{NAME}|%{VERSION}|%{LICENSE}|%{URL}|%{PAYLOADCOMPRESSOR}' "$rpm_file" 2>/dev/null)
[ "$rpm_info" = "countersign|$version|MIT OR Apache-2.0|$(field Homepage)|zstd" ] ||
  fail "rpm header: $rpm_info"
rpm_files=$(rpm -qpl "$rpm_file" 2>/dev/null | sort)
# The copyright file is Debian's; RPM carries the licence in its header.
[ "$rpm_files" = "$(grep -v '^/usr/share/doc/' <<<"$deb_files")" ] ||
  fail "the .rpm and .deb install different files: $(diff <(echo "$rpm_files") <(echo "$deb_files"))"
rpm_requires=$(rpm -qpR "$rpm_file" 2>/dev/null)
for needed in 'libwebkit2gtk-4.1.so.0()(64bit)' 'libgtk-3.so.0()(64bit)' 'libsoup-3.0.so.0()(64bit)' \
  'libayatana-appindicator3.so.1()(64bit)'; do
  grep -qxF "$needed" <<<"$rpm_requires" || fail "rpm Requires lacks $needed"
done
[ -z "$(sort <<<"$rpm_requires" | uniq -d)" ] || fail "rpm Requires lists something twice"
echo "    .rpm: $(stat -c %s "$rpm_file") bytes"

step "install with apt-get (dependencies from the archive)"
installed_by_us=true
apt_get install "$deb" >"$scratch/apt.log" 2>&1 || fail "apt-get install failed: $(tail -20 "$scratch/apt.log")"
[ "$(package_state)" = installed ] || fail "package state after install: $(package_state)"

step "installed files"
for path in "${package_files[@]}"; do
  [ -f "$path" ] || fail "$path missing"
  [ "$(dpkg -S "$path" | cut -d: -f1)" = countersign ] || fail "$path not owned by countersign"
done
[ -x /usr/bin/countersign ] && [ -x /usr/bin/countersign-cli ] || fail "binaries not executable"
[ "$(/usr/bin/countersign --version)" = "countersign $version" ] || fail "countersign --version"
grep -q '^Usage: countersign-cli' <<<"$(/usr/bin/countersign-cli --help)" || fail "countersign-cli --help"
for size in "${icon_sizes[@]}"; do
  file -b "/usr/share/icons/hicolor/${size}x${size}/apps/countersign.png" |
    grep -q "^PNG image data, $size x $size," || fail "the ${size}x${size} icon is not $size px"
done
validation=$(desktop-file-validate "$desktop_file" 2>&1 || true)
if grep -qE '(error|warning):' <<<"$validation"; then fail "desktop-file-validate: $validation"; fi
grep -qx 'Exec=countersign %u' "$desktop_file" || fail "Exec does not pass the link"
grep -qx 'MimeType=x-scheme-handler/countersign;' "$desktop_file" || fail "no MimeType for countersign://"
grep -qx 'Categories=Utility;Security;' "$desktop_file" || fail "Categories"
grep -qx 'Icon=countersign' "$desktop_file" || fail "Icon"

step "countersign:// is registered"
grep -q '^x-scheme-handler/countersign=Countersign.desktop;' /usr/share/applications/mimeinfo.cache ||
  fail "mimeinfo.cache does not name Countersign.desktop (desktop-file-utils trigger)"
handler=$(scheme_handler)
[ "$handler" = Countersign.desktop ] || fail "xdg-mime says the handler is '$handler'"

profile="$scratch/profile"
step "the installed app opens its window"
app_window_check "$profile"

step "a link opened with xdg-open reaches the running app, which enrolls (WebDriver)"
COUNTERSIGN_APP=/usr/bin/countersign node --test --test-timeout=180000 --test-force-exit \
  tests/package/ || fail "link handoff"

step "accounts from the installed CLI"
cli() { /usr/bin/countersign-cli --data-dir "$profile" "$@"; }
cli add 'otpauth://totp/Package%20Test:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Package%20Test' >/dev/null
cli import "$repo/crates/core/src/import/testdata/aegis_plain.json" >/dev/null
accounts_before=$(cli list)
[ "$(wc -l <<<"$accounts_before")" -ge 3 ] || fail "expected the added and imported accounts: $accounts_before"
expect_code "$profile" 'Package Test:alice@example.com' JBSWY3DPEHPK3PXP
entries_before=$(keychain_entries "$profile")
[ "$entries_before" -ge "$(wc -l <<<"$accounts_before")" ] ||
  fail "$entries_before keychain entries for $(wc -l <<<"$accounts_before") accounts"

step "upgrade to a higher version (the same build repacked with Version $version+upgradetest1)"
dpkg-deb -R "$deb" "$scratch/upgrade"
sed -i "s/^Version: .*/Version: $version+upgradetest1/" "$scratch/upgrade/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz -b "$scratch/upgrade" "$scratch/countersign-upgrade.deb" >/dev/null
apt_get install "$scratch/countersign-upgrade.deb" >"$scratch/apt.log" 2>&1 ||
  fail "upgrade failed: $(tail -20 "$scratch/apt.log")"
[ "$(dpkg-query -W -f='${Version}' countersign)" = "$version+upgradetest1" ] || fail "not upgraded"
for path in "${package_files[@]}"; do [ -f "$path" ] || fail "$path missing after the upgrade"; done
[ "$(cli list)" = "$accounts_before" ] || fail "accounts changed across the upgrade: $(cli list)"
expect_code "$profile" 'Package Test:alice@example.com' JBSWY3DPEHPK3PXP
while IFS=$'\t' read -r id _; do
  cli code "$id" >/dev/null || fail "no code for account $id after the upgrade"
done < <(cli list --json | node -p '
  JSON.parse(require("fs").readFileSync(0, "utf8")).filter((a) => a.otp.kind !== "hotp").map((a) => a.id).join("\n")')

step "remove: only the user's data and keychain entries remain"
dpkg -L countersign >"$scratch/package-paths"
apt_get remove countersign >"$scratch/apt.log" 2>&1 || fail "remove failed: $(tail -20 "$scratch/apt.log")"
state=$(package_state)
[ "$state" = config-files ] || [ "$state" = not-installed ] || fail "state after remove: $state"
while read -r path; do
  if [ -f "$path" ] || [ -L "$path" ]; then fail "$path left after remove"; fi
done <"$scratch/package-paths"
[ ! -e /usr/share/doc/countersign ] || fail "/usr/share/doc/countersign left after remove"
if grep -q countersign /usr/share/applications/mimeinfo.cache 2>/dev/null; then
  fail "mimeinfo.cache still names countersign"
fi
[ -z "$(scheme_handler)" ] || fail "countersign:// still has a handler: $(scheme_handler)"
node -e '
  const accounts = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).accounts;
  const ids = process.argv[2].split("\n").map((line) => line.split("\t")[0]);
  if (ids.some((id) => !accounts.find((a) => a.id === id))) process.exit(1);
' "$profile/accounts.json" "$accounts_before" || fail "the profile lost accounts on remove"
[ "$(keychain_entries "$profile")" = "$entries_before" ] || fail "keychain entries changed on remove"

# The package has no configuration files and no maintainer scripts, so remove already leaves
# nothing for purge to do; purge is checked from an installed package.
step "purge: nothing of the package is left; per-user data is never touched by packages"
apt_get install "$deb" >"$scratch/apt.log" 2>&1 || fail "install failed: $(tail -20 "$scratch/apt.log")"
apt_get purge countersign >"$scratch/apt.log" 2>&1 || fail "purge failed: $(tail -20 "$scratch/apt.log")"
[ "$(package_state)" = not-installed ] || fail "state after purge: $(package_state)"
while read -r path; do
  if [ -f "$path" ] || [ -L "$path" ]; then fail "$path left after purge"; fi
done <"$scratch/package-paths"
[ ! -e /usr/share/doc/countersign ] || fail "/usr/share/doc/countersign left after purge"
[ -f "$profile/accounts.json" ] || fail "purge removed the profile"
[ "$(keychain_entries "$profile")" = "$entries_before" ] || fail "keychain entries changed on purge"

step "reinstall after a wiped keychain: doctor reports the lost secrets and keys"
server_log="$scratch/verify-server.log"
"$verify_server" --listen 127.0.0.1:0 --data-dir "$scratch/verify-server" --demo >"$server_log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 200); do grep -q '^listening: ' "$server_log" && break; sleep 0.1; done
grep -q '^listening: ' "$server_log" || fail "verify-server did not start: $(cat "$server_log")"
server_value() { sed -n "s/^$1: //p" "$server_log"; }
origin=$(server_value listening)
ca=$(server_value ca)
service_sid=$(server_value service_sid)

apt_get install "$deb" >"$scratch/apt.log" 2>&1 || fail "install failed: $(tail -20 "$scratch/apt.log")"
lost="$scratch/lost-profile"
lost_cli() { /usr/bin/countersign-cli --data-dir "$lost" "$@"; }
# The relying party's backend asks its server for an enrollment token, as the demo page does.
link=$(NODE_EXTRA_CA_CERTS="$ca" ORIGIN="$origin" SERVICE="$service_sid" \
  ACCOUNT="$(server_value account_sid)" AUTH="$(server_value auth_token)" node -e '
  const { ORIGIN, SERVICE, ACCOUNT, AUTH } = process.env;
  const identity = "package-lost-0001";
  fetch(`${ORIGIN}/v2/Services/${SERVICE}/AccessTokens`, {
    method: "POST",
    headers: { authorization: "Basic " + Buffer.from(`${ACCOUNT}:${AUTH}`).toString("base64") },
    body: new URLSearchParams({ Identity: identity, FactorType: "push" }),
  })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`access token: ${r.status}`))))
    .then((t) => console.log(`countersign://enroll?v=1&server=${encodeURIComponent(`${ORIGIN}/v2/`)}` +
      `&service=${SERVICE}&identity=${identity}&token=${encodeURIComponent(t.token)}&name=Lost%20key%20desktop`))
    .catch((e) => { console.error(e.message); process.exit(1); });
')
enrolled=$(lost_cli push enroll "$link" --ca "$ca") || fail "push enroll failed"
enrollment_id=$(cut -f2 <<<"$enrolled")
lost_cli add 'otpauth://totp/Lost%20Co:dave?secret=JBSWY3DPEHPK3PXP&issuer=Lost%20Co' >/dev/null
lost_cli add 'otpauth://totp/Lost%20Co:erin?secret=KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TFOQ&issuer=Lost%20Co' >/dev/null
lost_accounts=$(lost_cli list | cut -f1)
[ "$(wc -l <<<"$lost_accounts")" = 2 ] || fail "expected 2 accounts: $lost_accounts"
lost_cli doctor >"$scratch/doctor.out" || fail "doctor on a healthy profile: $(cat "$scratch/doctor.out")"
grep -qx $'verdict\thealthy' "$scratch/doctor.out" || fail "doctor before the wipe: $(cat "$scratch/doctor.out")"

apt_get remove countersign >"$scratch/apt.log" 2>&1 || fail "remove failed"
[ "$(keychain_entries "$lost")" = 3 ] || fail "expected 3 keychain entries, found $(keychain_entries "$lost")"
secret-tool clear service "countersign:$(vault_id_of "$lost")"
[ "$(keychain_entries "$lost")" = 0 ] || fail "keychain entries left after clearing them"
apt_get install "$deb" >"$scratch/apt.log" 2>&1 || fail "reinstall failed"
app_window_check "$lost"
set +e
lost_cli doctor >"$scratch/doctor.out" 2>"$scratch/doctor.err"
doctor_status=$?
set -e
sed 's/^/    doctor | /' "$scratch/doctor.out"
[ "$doctor_status" = 2 ] ||
  fail "doctor exited $doctor_status (2 = needs action): $(cat "$scratch/doctor.err")"
for id in $lost_accounts; do
  grep -qP "^secret\t$id\tsecret_missing\t" "$scratch/doctor.out" || fail "doctor does not report the lost secret of $id"
done
grep -qP "^push\t$enrollment_id\tkey_missing\t" "$scratch/doctor.out" ||
  fail "doctor does not report the lost push key of $enrollment_id"
grep -qx $'verdict\tneeds_action' "$scratch/doctor.out" || fail "doctor verdict"
[ "$(lost_cli list | cut -f1)" = "$lost_accounts" ] || fail "accounts dropped after the wipe"

step "package test passed"
