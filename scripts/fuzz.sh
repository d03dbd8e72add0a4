#!/usr/bin/env bash
# Runs each fuzz target of crates/core/fuzz for a bounded time (part of `make test`):
#   scripts/fuzz.sh                          every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=600 scripts/fuzz.sh otpauth  one target, longer
# Targets start from the committed seeds (crates/core/fuzz/seeds/<target>, the importers'
# fixtures for import_file) plus what earlier runs found (target/fuzz/corpus/<target>).
# A crash fails the run; the input that caused it is saved in crates/core/fuzz/artifacts/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-20}
if [ $# -gt 0 ]; then targets=("$@"); else targets=(import_file otpauth migration); fi
build_dir="$root/target/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi
# libFuzzer needs the compiler's unstable sanitizer flags; this allows them on stable Rust.
export RUSTC_BOOTSTRAP=1

cd "$root/crates/core"
start=$SECONDS
# Build first, so each time limit is spent fuzzing.
for target in "${targets[@]}"; do
  cargo fuzz build --target-dir "$build_dir" "$target"
done
echo "fuzz: built in $((SECONDS - start)) s"

mkdir -p "$build_dir/logs"
for target in "${targets[@]}"; do
  case "$target" in
    import_file) seeds=src/import/testdata ;;
    *) seeds="fuzz/seeds/$target" ;;
  esac
  corpus="$build_dir/corpus/$target"
  log="$build_dir/logs/$target.log"
  mkdir -p "$corpus"
  # The first corpus directory receives new inputs; the seeds are only read.
  if ! cargo fuzz run --target-dir "$build_dir" "$target" "$corpus" "$seeds" -- \
      -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
      >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $target FAILED (log: $log; the input is in crates/core/fuzz/artifacts/$target/)"
    exit 1
  fi
  echo "fuzz: $target ok: $(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1)," \
    "corpus $(find "$corpus" -type f | wc -l) inputs"
done
echo "fuzz: ${#targets[@]} target(s) in $((SECONDS - start)) s"
