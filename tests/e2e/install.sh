#!/usr/bin/env bash
# The installed files alone run motcua (issue 12, install): copies the
# source tree (the files git tracks, and new ones it does not ignore) to a
# temporary directory, builds the
# programs there, `cmake --install`s them into a temporary prefix, removes
# that source copy and its build tree, and then:
#
#  - checks the layout: bin/motcua-{intake,router,deadline,notify}, bin/motcua,
#    share/motcua/schemas (with migrations/ and seed/), and the systemd unit
#    whose ExecStart names the installed binary;
#  - checks that an installed binary whose data is missing says where it
#    looked and exits 2 (before, it looked in the source path compiled
#    in and retried for ever as "database not reachable");
#  - runs the end-to-end pipeline (tests/e2e/pipeline.sh) on the installed
#    binaries: their schemas, migrations and catalog come from
#    <prefix>/share/motcua, the source path compiled into them no longer
#    exists.
#
#   bash tests/e2e/install.sh <build dir>   (the build dir is not used)
#
# Needs what pipeline.sh needs (MOTCUA_TEST_PG_URL, and the broker of
# ./tests/run), git, cmake and a C compiler.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/motcua-install.XXXXXX")
chmod 755 "$tmp"
# shellcheck disable=SC2317 # reached through the trap
finish() {
    local status=0
    e2e_verdict || status=1
    rm -rf "$tmp"
    e2e_exit "$status"
}
e2e_traps finish

src=$tmp/src build=$tmp/build prefix=$tmp/prefix
e2e_log "copying the tracked source to $src"
if ! e2e_copy_source "$root" "$src"; then
    e2e_fail "copy the source tree (git ls-files)"
    exit 1
fi
e2e_log "building and installing into $prefix"
if ! { cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_INSTALL_PREFIX="$prefix" >"$tmp/cmake.log" 2>&1 &&
    cmake --build "$build" -j2 --target programs >>"$tmp/cmake.log" 2>&1 &&
    cmake --install "$build" >>"$tmp/cmake.log" 2>&1; }; then
    tail -n 30 "$tmp/cmake.log" >&2
    e2e_fail "build and install"
    exit 1
fi
rm -rf "$src" "$build"

check "the source copy and its build tree are gone" test ! -e "$src" -a ! -e "$build"
for prog in motcua-intake motcua-router motcua-deadline motcua-notify motcua-api motcua-sender motcua \
    motcua-devkafka; do
    check "installed: bin/$prog" test -x "$prefix/bin/$prog"
done
check "installed: share/motcua/schemas/submission.v1.schema.json" \
    test -f "$prefix/share/motcua/schemas/submission.v1.schema.json"
check "installed: share/motcua/schemas/migrations/001_delivery.sql and seed/" \
    test -d "$prefix/share/motcua/schemas/migrations" -a -d "$prefix/share/motcua/schemas/seed"
check "installed: share/motcua/board/index.html (the read side's page)" \
    test -f "$prefix/share/motcua/board/index.html"
check "installed: the systemd unit names the installed binary" \
    grep -qx "ExecStart=$prefix/bin/motcua-%i" "$prefix/lib/systemd/system/motcua@.service"

# Data missing: the error names the file and the service stops (exit 2).
mv "$prefix/share/motcua" "$prefix/share/motcua.away"
out=$(MOTCUA_PG_URL=postgresql://127.0.0.1:1/x timeout 20 "$prefix/bin/motcua-intake" 2>&1)
status=$?
check "no data: motcua-intake exits 2 (got $status)" test "$status" = 2
check "no data: the error says where it looked" \
    grep -qF "$prefix/bin/../share/motcua (beside this binary) has no schemas/, nor has $src" \
    <<<"$out"
out=$(MOTCUA_PG_URL=postgresql://127.0.0.1:1/x "$prefix/bin/motcua" migrate 2>&1)
check "no data: the CLI says where it looked" \
    grep -qF "$prefix/bin/../share/motcua (beside this binary) has no schemas/" <<<"$out"
# With MOTCUA_DATA_DIR the CLI gets past its data, to the (absent) database.
out=$(MOTCUA_DATA_DIR=$prefix/share/motcua.away MOTCUA_PG_URL=postgresql://127.0.0.1:1/x \
    "$prefix/bin/motcua" migrate 2>&1)
status=$?
check "MOTCUA_DATA_DIR elsewhere: the CLI takes it (exit $status, not 2)" test "$status" = 1
mv "$prefix/share/motcua.away" "$prefix/share/motcua"

# --config FILE: read (an unknown key is refused by name), and missing is
# an error naming it.
printf 'MOTCUA_LOG_LEVEL=warn\nMOTCUA_BATCH_MAXX=5\n' >"$tmp/bad.env"
out=$("$prefix/bin/motcua-intake" --config "$tmp/bad.env" 2>&1)
status=$?
check "--config FILE with an unknown key: exit 2 naming it (got $status)" \
    test "$status" = 2 -a -n "$(grep -F "$tmp/bad.env:2: unknown key MOTCUA_BATCH_MAXX" <<<"$out")"
out=$("$prefix/bin/motcua-router" --config="$tmp/missing.env" 2>&1)
status=$?
check "--config=FILE that does not exist: exit 2 naming it (got $status)" \
    test "$status" = 2 -a -n "$(grep -F "$tmp/missing.env" <<<"$out")"

e2e_log "the end-to-end pipeline on the installed binaries"
bash "$here/pipeline.sh" "$prefix" 2>&1 | tee "$tmp/pipeline.log" >&2
pipeline_status=${PIPESTATUS[0]}
check "the pipeline passes on the installed files (exit $pipeline_status)" \
    test "$pipeline_status" = 0
