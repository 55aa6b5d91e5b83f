#!/usr/bin/env bash
# Fuzzes keeptrack's parsers with libFuzzer: `make fuzz` runs this with 120.
# Usage: scripts/fuzz.sh [SECONDS]   (per harness; default 120)
#
# Sets up the fuzz build directory once (clang, -Dfuzz=true, ASan+UBSan, and
# -fsanitize=fuzzer-no-link so the libraries under test report coverage to
# libFuzzer), builds only the harnesses, and runs meson's 'fuzz' suite: each
# tests/fuzz/fuzz_<name>.c for SECONDS over a copy of tests/fuzz/corpus/<name>/.
# Crash inputs are kept in BUILD/tests/fuzz/artifacts-<name>/.
# FUZZ_BUILD overrides the directory (default build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-120}
case $seconds in ''|*[!0-9]*|0) echo "usage: scripts/fuzz.sh [SECONDS>0]" >&2; exit 2;; esac
dir=${FUZZ_BUILD:-build-fuzz}

if [ ! -f "$dir/build.ninja" ]; then
  command -v clang >/dev/null || { echo "fuzz: clang is needed (scripts/install-deps.sh installs it)" >&2; exit 1; }
  CC=clang meson setup "$dir" --buildtype=debugoptimized -Dfuzz=true \
    -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link
fi
ninja -C "$dir" fuzz-harnesses
mkdir -p "$dir/junit"
# meson's per-test timeout is 60 s; leave each run its SECONDS plus a minute.
multiplier=$(( seconds / 60 + 2 ))
FUZZ_SECONDS=$seconds meson test -C "$dir" --no-rebuild --suite fuzz --print-errorlogs \
  --timeout-multiplier "$multiplier"
