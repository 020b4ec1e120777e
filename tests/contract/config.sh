#!/usr/bin/env bash
# Contract test: docs/configuration.md is what tools/gen/config_doc.sh makes
# of the configuration table in common/config.c.
# Usage: tests/contract/config.sh <build dir>.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:?usage: config.sh <build dir>}
if ! diff -u "$root/docs/configuration.md" <("$root/tools/gen/config_doc.sh" "$build" -) >&2; then
    echo "config: docs/configuration.md is stale: run tools/gen/config_doc.sh" >&2
    echo "config: 0 passed, 1 failed"
    exit 1
fi
echo "config: docs/configuration.md matches the table"
echo "config: 1 passed, 0 failed"
