#!/usr/bin/env bash
# Contract test: an independent JSON Schema validator (Ajv, draft 2020-12,
# strict mode) must agree with the C validator on tests/fixtures/corpus.
# Usage: tests/contract/ajv.sh <build dir>. Ajv is installed with `npm ci`
# from package-lock.json into <build dir>/contract-ajv, so nothing is written
# into the source tree.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-${TMPDIR:-/tmp}/motcua-build}
cache="$build/contract-ajv"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "ajv: '$tool' is not installed; this test needs Node.js and npm (tests/run installs them)" >&2
        exit 1
    fi
done

# (Re)install when nothing is installed yet or the lock file changed.
mkdir -p "$cache"
if [ ! -d "$cache/node_modules/ajv" ] || ! cmp -s "$here/package-lock.json" "$cache/installed.lock"; then
    rm -f "$cache/installed.lock"
    cp "$here/package.json" "$here/package-lock.json" "$cache/"
    if ! (cd "$cache" && npm ci --silent --no-audit --no-fund --no-update-notifier \
            --cache "$cache/npm-cache"); then
        echo "ajv: 'npm ci' failed in $cache (is the npm registry reachable?)" >&2
        exit 1
    fi
    cp "$here/package-lock.json" "$cache/installed.lock"
fi

MOTCUA_AJV_MODULES="$cache/node_modules" exec node "$here/ajv-check.mjs"
