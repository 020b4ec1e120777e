#!/usr/bin/env bash
# The Debian package (issue 12): builds it from a copy of the source
# (CPack, prefix /usr: `cpack -G DEB`), installs it with `apt-get install
# ./motcua_*.deb`, checks what it installed (programs, data, the systemd
# unit template naming /usr/bin, the motcua system user, /etc/motcua with
# its commented common.env) and its declared dependencies, runs the whole
# end-to-end pipeline (tests/e2e/pipeline.sh) on the installed programs
# (systemd is not PID 1 on the test machines: the pipeline runs the same
# command lines the unit runs, and checks /readyz), then purges the package
# and checks that nothing of it is left.
#
#   bash tests/e2e/deb.sh <build dir>   (the build dir is not used)
#
# Needs root (apt-get), and what pipeline.sh needs. Refuses to run when a
# motcua package is installed already (it would replace it).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=deploy/local/lib.sh
. "$root/deploy/local/lib.sh"

if dpkg-query -W -f='${Status}' motcua 2>/dev/null | grep -q 'install ok installed'; then
    echo "deb: a motcua package is installed on this machine; this test would replace it" >&2
    echo "e2e: 0 passed, 1 failed" >&2
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/motcua-deb.XXXXXX")
chmod 755 "$tmp"
installed=
# shellcheck disable=SC2317 # reached through the trap
finish() {
    local status=0
    if [ -n "$installed" ]; then
        mc_as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q motcua \
            >>"$tmp/apt.log" 2>&1 || e2e_fail "apt-get purge motcua (see $tmp/apt.log)"
    fi
    e2e_verdict || status=1
    rm -rf "$tmp"
    e2e_exit "$status"
}
e2e_traps finish

src=$tmp/src build=$tmp/build
e2e_log "copying the tracked source to $src and building the package"
if ! e2e_copy_source "$root" "$src" ||
    ! { cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_INSTALL_PREFIX=/usr >"$tmp/cmake.log" 2>&1 &&
        cmake --build "$build" -j2 --target programs >>"$tmp/cmake.log" 2>&1 &&
        (cd "$build" && cpack -G DEB) >>"$tmp/cmake.log" 2>&1; }; then
    tail -n 30 "$tmp/cmake.log" >&2
    e2e_abort "build the package (cpack -G DEB)"
fi
deb=$(find "$build" -maxdepth 1 -name "motcua_*.deb" | head -n1)
[ -n "$deb" ] || e2e_abort "cpack wrote no motcua_*.deb"
e2e_pass "package built: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in librdkafka1 libpq5 libjansson4 libuv1 libh2o libcurl4 libunistring adduser; do
    check "its dependencies declare $lib" grep -q "$lib" <<<"$depends"
done
e2e_log "Depends: $depends"

mv "$deb" "$tmp/"
deb=$tmp/$(basename "$deb")
rm -rf "$src" "$build"
if mc_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" \
    >"$tmp/apt.log" 2>&1; then
    installed=1
    e2e_pass "apt-get install ./$(basename "$deb")"
else
    tail -n 20 "$tmp/apt.log" >&2
    e2e_abort "apt-get install $(basename "$deb")"
fi
for prog in motcua-intake motcua-router motcua-deadline motcua-notify motcua-api motcua-sender motcua; do
    check "installed: /usr/bin/$prog" test -x "/usr/bin/$prog"
done
check "installed: /usr/share/motcua (schemas, migrations, board)" \
    test -f /usr/share/motcua/schemas/submission.v1.schema.json -a \
    -d /usr/share/motcua/schemas/migrations -a -f /usr/share/motcua/board/index.html
check "installed: the unit template runs /usr/bin/motcua-<service> as user motcua" \
    grep -qx 'ExecStart=/usr/bin/motcua-%i' /usr/lib/systemd/system/motcua@.service
check "the motcua system user exists" getent passwd motcua
check "/etc/motcua/common.env is there, commented, readable by group motcua" \
    test "$(stat -c '%G %a' /etc/motcua/common.env 2>/dev/null)" = "motcua 640"

e2e_log "the end-to-end pipeline on the installed package"
bash "$here/pipeline.sh" /usr 2>&1 | tee "$tmp/pipeline.log" >&2
pipeline_status=${PIPESTATUS[0]}
check "the pipeline passes on the package's programs (exit $pipeline_status)" \
    test "$pipeline_status" = 0

if mc_as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q motcua \
    >>"$tmp/apt.log" 2>&1; then
    installed=
    e2e_pass "apt-get purge motcua"
else
    e2e_fail "apt-get purge motcua"
fi
check "nothing of the package is left (programs, data, unit, /etc/motcua)" \
    test ! -e /usr/bin/motcua-api -a ! -e /usr/share/motcua -a \
    ! -e /usr/lib/systemd/system/motcua@.service -a ! -e /etc/motcua
