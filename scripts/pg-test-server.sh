#!/usr/bin/env bash
# Starts (or stops) a throw-away PostgreSQL server for the test run:
# initdb into a temporary folder, listening on 127.0.0.1 only, a free port,
# trust authentication for loopback (test data only). Runs as the `postgres`
# user when invoked as root, because initdb refuses to run as root.
#   pg-test-server.sh start ENVFILE   writes KEEPTRACK_TEST_PG=postgresql://... to ENVFILE
#   pg-test-server.sh stop ENVFILE
set -euo pipefail
cmd=${1:?start|stop}; envfile=${2:?envfile}

bindir=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && bindir=$d; done
[ -n "$bindir" ] || { echo "pg-test-server: PostgreSQL server binaries not found" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  dir=$(mktemp -d /tmp/keeptrack-pg.XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c max_connections=300" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres keeptrack_test
  {
    echo "KEEPTRACK_TEST_PG=postgresql://postgres@127.0.0.1:$port/keeptrack_test"
    echo "KEEPTRACK_TEST_PG_DIR=$dir"
  } >"$envfile"
  echo "pg-test-server: PostgreSQL on 127.0.0.1:$port ($dir)"
  ;;
stop)
  [ -f "$envfile" ] || exit 0
  dir=$(sed -n 's/^KEEPTRACK_TEST_PG_DIR=//p' "$envfile")
  [ -n "$dir" ] && [ -d "$dir" ] || exit 0
  as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop ENVFILE" >&2; exit 2 ;;
esac
