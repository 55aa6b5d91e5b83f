#!/usr/bin/env bash
# Runs every test suite in each build directory given, with a private
# PostgreSQL server started for the run, then prints one closing line
# "N passed, N failed[, N skipped]" and exits non-zero on any failure.
# With --fuzz (what `make test` passes) it also sets up and builds the clang
# libFuzzer directory (build-fuzz, see scripts/fuzz.sh) and runs its 'fuzz'
# suite briefly (FUZZ_SECONDS, default 10, per harness), counted in the summary.
# Options --setup NAME, --suite NAME, --no-suite NAME and
# --timeout-multiplier N are passed on to meson test (make valgrind, make
# soak, make coverage use them).
set -uo pipefail
cd "$(dirname "$0")/.."
fuzz=0
meson_opts=()
setup=
while [ $# -gt 0 ]; do
  case $1 in
    --fuzz) fuzz=1; shift;;
    --setup) setup=$2; meson_opts+=("$1" "$2"); shift 2;;
    --suite|--no-suite|--timeout-multiplier) meson_opts+=("$1" "$2"); shift 2;;
    *) break;;
  esac
done
[ $# -ge 1 ] || { echo "usage: run-tests.sh [--fuzz] [--setup S] [--suite S]... BUILDDIR..." >&2; exit 2; }

# One PostgreSQL server for the whole run, on loopback, in a temporary folder.
pg_env=$(mktemp)
if bash scripts/pg-test-server.sh start "$pg_env"; then
  # shellcheck disable=SC1090
  . "$pg_env"
  export KEEPTRACK_TEST_PG
else
  echo "run-tests: PostgreSQL could not be started; PostgreSQL suites will fail" >&2
fi
cleanup() { bash scripts/pg-test-server.sh stop "$pg_env" >/dev/null 2>&1; rm -f "$pg_env"; }
trap cleanup EXIT

status=0
for dir in "$@"; do
  rm -rf "$dir/junit"; mkdir -p "$dir/junit"
  echo "== meson test -C $dir"
  if ! meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier 3 \
      ${meson_opts[@]+"${meson_opts[@]}"}; then
    status=1
  fi
done

dirs=("$@")
if [ "$fuzz" = 1 ]; then
  fuzz_dir=${FUZZ_BUILD:-build-fuzz}
  fuzz_seconds=${FUZZ_SECONDS:-10}
  echo "== libFuzzer: $fuzz_dir, ${fuzz_seconds}s per harness"
  # A failed setup or build must not leave an older run's results to be counted.
  rm -rf "$fuzz_dir/junit" "$fuzz_dir/meson-logs/testlog.json"
  if ! FUZZ_BUILD=$fuzz_dir bash scripts/fuzz.sh "$fuzz_seconds"; then
    status=1
  fi
  dirs+=("$fuzz_dir")
fi
KT_TEST_SETUP=$setup /usr/bin/python3 scripts/test-summary.py "${dirs[@]}" || status=1
exit $status
