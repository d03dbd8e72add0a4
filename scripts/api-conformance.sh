#!/usr/bin/env bash
# Property-based conformance run (part of `make test`): Schemathesis generates requests from
# Twilio's OpenAPI description of Verify v2 for the push and TOTP routes (Entities, Factors,
# Challenges, AccessTokens) and sends them to verify-server over HTTPS. It fails on any 5xx
# answer and on any request that gets no answer (a dropped TLS connection, a timeout).
#   scripts/api-conformance.sh                 the default budget (ST_EXAMPLES=40 per operation)
#   ST_EXAMPLES=200 scripts/api-conformance.sh  a longer run
# Twilio's description is read from outside the repository (COUNTERSIGN_VERIFY_SPEC, else
# ../shared/verify/ beside the checkout, else /work/shared/verify/); without one the run says
# so and is skipped.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
examples=${ST_EXAMPLES:-40}
schemathesis_version=4.32.5

spec=""
for candidate in "${COUNTERSIGN_VERIFY_SPEC:-}" "$root/../shared/verify/twilio_verify_v2.json" \
  /work/shared/verify/twilio_verify_v2.json; do
  if [ -n "$candidate" ] && [ -f "$candidate" ]; then spec=$candidate; break; fi
done
if [ -z "$spec" ]; then
  echo "api-conformance: SKIPPED: Twilio's Verify v2 OpenAPI file was not found (set COUNTERSIGN_VERIFY_SPEC)"
  exit 0
fi

venv="$root/target/schemathesis-venv"
if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version | grep -q "$schemathesis_version"; then
  echo "api-conformance: installing Schemathesis $schemathesis_version from PyPI"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$schemathesis_version"
fi

server_bin="$root/target/debug/verify-server"
[ -x "$server_bin" ] || cargo build -q -p verify-server
work=$(mktemp -d)
log="$work/server.log"
"$server_bin" --listen 127.0.0.1:0 --data-dir "$work/data" --demo >"$log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  grep -q '^listening: ' "$log" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "api-conformance: verify-server did not start"; exit 1; }
  sleep 0.1
done
field() { sed -n "s/^$1: //p" "$log" | head -n1; }
url=$(field listening)
[ -n "$url" ] || { cat "$log"; echo "api-conformance: verify-server did not say where it listens"; exit 1; }

# Real identifiers for the path, so requests reach the handlers instead of stopping at 404.
config="$work/schemathesis.toml"
cat >"$config" <<TOML
[parameters]
"path.ServiceSid" = "$(field service_sid)"
"path.Identity" = "conformance-0001"
TOML

echo "api-conformance: $examples examples per operation against $url ($spec)"
"$venv/bin/st" --config-file "$config" run "$spec" \
  --url "$url" \
  --tls-verify "$work/data/ca.pem" \
  --auth "$(field account_sid):$(field auth_token)" \
  --include-path-regex 'Entities|AccessTokens' \
  --checks not_a_server_error \
  --max-examples "$examples" \
  --request-timeout 10 \
  --seed 20261203 \
  --workers 2 \
  --no-color
# A crash of the server would show as failed requests above; say so plainly too.
kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "api-conformance: verify-server died during the run"; exit 1; }
echo "api-conformance: no server errors, no dropped connections"
