#!/usr/bin/env bash
# run.sh - the 'browser' suite: installs playwright-core (npm ci, pinned by
# package-lock.json) into BUILD/browser-node, then runs the node:test files
# with JUnit output (for scripts/test-summary.py) and the spec reporter on
# stdout. Screenshots and downloads go to BUILD/browser-artifacts/.
#
#   run.sh BUILD_DIR JUNIT_XML TEST_FILE...
# env: KEEPTRACK_BIN, EMULATOR_BIN (set by meson)
#
# npm reaches only the npm registry, which is allowed; no browser is ever
# downloaded (playwright-core has no install step; Debian's /usr/bin/chromium
# is used).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd); junit=$2; shift 2

command -v node >/dev/null || { echo "browser: node is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { echo "browser: node $node_major is too old (playwright-core and node's junit reporter need 20+)" >&2; exit 1; }
command -v npm >/dev/null || { echo "browser: npm is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
[ -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ] || { echo "browser: ${CHROMIUM_BIN:-/usr/bin/chromium} is missing (apt-get install chromium)" >&2; exit 1; }

modules_dir="$build/browser-node"
mkdir -p "$modules_dir" "$build/browser-artifacts" "$(dirname "$junit")"
# npm ci again only when the lock file changed; a lock held while two build
# directories' suites run at once is per build directory, so no clash.
if ! cmp -s "$here/package-lock.json" "$modules_dir/package-lock.json" || [ ! -d "$modules_dir/node_modules/playwright-core" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$modules_dir/"
  (cd "$modules_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

export KT_NODE_MODULES="$modules_dir/node_modules"
export KT_ARTIFACTS="$build/browser-artifacts"
exec node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=junit --test-reporter-destination="$junit" \
  "$@"
