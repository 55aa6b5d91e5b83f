#!/usr/bin/env bash
# Runs one libFuzzer harness (build-fuzz, -Dfuzz=true) for FUZZ_SECONDS
# (default 10) over a COPY of its seed corpus, so new inputs the fuzzer finds
# never land in the source tree. Crash inputs go to ARTIFACT_DIR (in the
# build directory) and are printed; reproduce one with `FUZZER ARTIFACT`.
# Called by meson test (tests/fuzz/meson.build), suite 'fuzz'.
# Usage: run-fuzzer.sh FUZZER CORPUS_DIR ARTIFACT_DIR
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: run-fuzzer.sh FUZZER CORPUS_DIR ARTIFACT_DIR" >&2; exit 2; }
fuzzer=$1 corpus=$2 artifacts=$3
seconds=${FUZZ_SECONDS:-10}
case $seconds in ''|*[!0-9]*) echo "run-fuzzer: FUZZ_SECONDS must be a whole number" >&2; exit 2;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/kt-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$corpus/." "$work/"
mkdir -p "$artifacts"

# UBSan reports must fail the run, not scroll past.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
echo "run-fuzzer: $(basename "$fuzzer") for ${seconds}s over $(find "$work" -type f | wc -l) seed inputs"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$work"
