#!/usr/bin/env bash
# Contract test: schemas/openapi.yaml is a valid OpenAPI 3.1 document
# (openapi-spec-validator from PyPI, pinned in tests/api/requirements.txt).
# Usage: tests/contract/openapi.sh <build dir>.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/api/tools.sh
. "$root/tests/api/tools.sh"

bin=$(api_python "${1:-${TMPDIR:-/tmp}/motcua-build}")
if "$bin/openapi-spec-validator" "$root/schemas/openapi.yaml"; then
    echo "openapi: 1 passed, 0 failed"
else
    echo "openapi: 0 passed, 1 failed"
    exit 1
fi
