#!/usr/bin/env bash
# The fuzz smoke of ./tests/run: every harness for MOTCUA_FUZZ_SMOKE_SECONDS
# (default 60) seconds. Usage: tests/fuzz/smoke.sh <build dir> (unused: the
# harnesses build with clang in their own tree).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/run" --seconds "${MOTCUA_FUZZ_SMOKE_SECONDS:-60}"
