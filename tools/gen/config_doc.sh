#!/usr/bin/env bash
# Writes docs/configuration.md from the configuration table in
# common/config.c, through `motcua config doc`. Usage:
# tools/gen/config_doc.sh [BUILD_DIR] [OUTPUT] (default build/,
# docs/configuration.md; OUTPUT - for stdout). tests/contract/config.sh
# checks that the committed file is what this prints.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
out=${2:-$root/docs/configuration.md}
cli=$build/tools/motcua
[ -x "$cli" ] || {
    echo "config_doc: $cli is not built" >&2
    exit 1
}

render() {
    cat <<'HEAD'
# Configuration

Generated from the configuration table in `common/config.c` by
`tools/gen/config_doc.sh`; do not edit by hand.

Every service and the `motcua` CLI read these `MOTCUA_*` keys from the
environment, or from the file `MOTCUA_CONFIG_FILE` names (or, for a
service, `--config FILE`; lines `MOTCUA_KEY=value`, `#` comments); the
environment wins over the file. A
key in the file that is not in this table is an error naming it (a typo
would otherwise leave the default in force). A bad value stops the process
with exit status 2 and a message naming the key. `--help` on any service
prints the same list.

HEAD
    "$cli" config doc
    cat <<'TAIL'

The scripts of `deploy/` and `tests/` read a few more variables of their
own (`MOTCUA_BROKER`, `MOTCUA_KAFKA_NODES`, `MOTCUA_KAFKA_SECURE`,
`MOTCUA_BUILD_DIR`, `MOTCUA_CMAKE_ARGS`, `MOTCUA_TEST_*`); see README.md
and `docs/testing.md`. Builds with fault points (`docs/testing.md`, the
torture) also read `MOTCUA_FAULT`.
TAIL
}

if [ "$out" = - ]; then
    render
else
    render >"$out.tmp"
    mv "$out.tmp" "$out"
fi
