#!/usr/bin/env bash
# Runs every test suite in each build directory given, with a private
# PostgreSQL server started for the run, then prints one closing line
# "N passed, N failed[, N skipped]" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: run-tests.sh BUILDDIR..." >&2; exit 2; }

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
  if ! meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier 3; then
    status=1
  fi
done
/usr/bin/python3 scripts/test-summary.py "$@" || status=1
exit $status
