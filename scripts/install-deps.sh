#!/usr/bin/env bash
# Installs every Debian package keeptrack needs to build, run and test.
# Idempotent: packages already present are skipped; `apt-get update` runs first
# only when something is missing (and always on CI, where lists may be stale).
set -euo pipefail

PKGS=(
  build-essential pkg-config meson ninja-build clang
  libmicrohttpd-dev libjansson-dev libsodium-dev libcurl4-openssl-dev
  libsqlite3-dev sqlite3 libpq-dev postgresql postgresql-client
  libcmocka-dev libzip-dev libyajl-dev
  python3 python3-pytest python3-jsonschema python3-yaml
  valgrind gcovr
  rclone
  chromium nodejs
)
# npm: Debian's package, unless the nodejs installed already brings its own
# (NodeSource's nodejs provides npm and conflicts with Debian's npm package).
if ! command -v npm >/dev/null 2>&1; then
  PKGS+=(npm)
fi
# Extra packages for benchmarks and optional features (installed by `make bench`).
if [ "${1:-}" = "--bench" ]; then
  PKGS+=(wrk nginx-light)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ] && [ -z "${CI:-}" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: apt-get update"
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
