# shellcheck shell=bash
# The read side's test tools, installed into the build dir (nothing is
# written into the source tree) and again only when their lock files change:
#   api_python BUILD   a venv with requirements.txt (schemathesis,
#                      openapi-spec-validator); prints its bin directory
#   api_node BUILD     playwright-core from package-lock.json (npm ci);
#                      prints its node_modules directory
# Sourced by tests/contract/openapi.sh and tests/e2e/board.sh.

api_tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

api_python() {
    local cache=$1/api-tools/venv
    if [ ! -x "$cache/bin/schemathesis" ] ||
        ! cmp -s "$api_tools_dir/requirements.txt" "$cache/installed.txt"; then
        rm -rf "$cache"
        python3 -m venv "$cache" >&2 || {
            echo "api tools: python3 -m venv failed (is python3-venv installed?)" >&2
            return 1
        }
        "$cache/bin/pip" install -q --disable-pip-version-check \
            -r "$api_tools_dir/requirements.txt" >&2 || {
            echo "api tools: pip install failed in $cache (is PyPI reachable?)" >&2
            return 1
        }
        cp "$api_tools_dir/requirements.txt" "$cache/installed.txt"
    fi
    echo "$cache/bin"
}

api_node() {
    local cache=$1/api-tools/node
    mkdir -p "$cache"
    if [ ! -d "$cache/node_modules/playwright-core" ] ||
        ! cmp -s "$api_tools_dir/package-lock.json" "$cache/installed.lock"; then
        rm -f "$cache/installed.lock"
        cp "$api_tools_dir/package.json" "$api_tools_dir/package-lock.json" "$cache/"
        (cd "$cache" && npm ci --silent --no-audit --no-fund --no-update-notifier \
            --cache "$cache/npm-cache") >&2 || {
            echo "api tools: npm ci failed in $cache (is the npm registry reachable?)" >&2
            return 1
        }
        cp "$api_tools_dir/package-lock.json" "$cache/installed.lock"
    fi
    echo "$cache/node_modules"
}
