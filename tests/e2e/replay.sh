#!/usr/bin/env bash
# End-to-end test of the seed-year replay: runs deploy/local/replay (a fresh
# embedded stack on the topic clock, `motcua replay`, the sender's
# deliveries, the report) under a temporary MOTCUA_STATE_DIR on a hundredth
# of Hòa Bình city's 2020 (--scale 0.01: 718 dossiers, 210 online), then
# checks, from the services' own tables rather than the replay's word:
#
#  - the year's totals: every generated dossier received, the online ones
#    online, none rejected, all received in 2020, none at the counter on a
#    day off (Sundays, Tết, 30 April - 1 May, 2 September);
#  - the report prints the same totals and one letter per breach;
#  - every breach has exactly one apology letter, and one request for an
#    explanation; every letter and notice was delivered;
#  - the units' transfers (liên thông) went to the city's departments, which
#    then hold the dossiers;
#  - a second replay on the same stack is refused (it needs a fresh one),
#    and a year the calendar does not cover is a usage error.
#
#   bash tests/e2e/replay.sh <build dir>
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=deploy/local/lib.sh
. "$root/deploy/local/lib.sh"

if [ $# -ne 1 ] || [ ! -x "$1/tools/motcua" ]; then
    echo "usage: bash replay.sh <build dir> (with tools/motcua built)" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
scale=0.01
expected_dossiers=718 # round(71,776 x 0.01)
expected_online=210   # round(21,006 x 0.01)

work=$(mktemp -d "${TMPDIR:-/tmp}/motcua-replay.XXXXXX")
chmod 755 "$work" # the PostgreSQL cluster's user must reach the stack's state
stack=$work/stack

# shellcheck disable=SC2317 # reached through the trap
finish() {
    local status=$?
    trap - EXIT INT TERM
    MOTCUA_STATE_DIR=$stack MOTCUA_BUILD_DIR=$build "$root/deploy/local/down" --purge \
        >"$work/down.log" 2>&1 || e2e_fail "deploy/local/down --purge failed (see $work/down.log)"
    if [ "$E2E_FAILED" -gt 0 ] || [ "$status" -ne 0 ]; then
        [ "$E2E_FAILED" -gt 0 ] || e2e_fail "the test stopped with status $status"
        printf '\nfailed:\n' >&2
        printf '  - %s\n' "${E2E_FAILURES[@]}" >&2
        [ -f "$work/replay.log" ] && { printf '\n--- replay.log (end)\n' >&2; tail -n 60 "$work/replay.log" >&2; }
        e2e_log "kept in $work"
        status=1
    else
        rm -rf "$work"
    fi
    e2e_exit "$status"
}
e2e_traps finish

e2e_log "deploy/local/replay --year 2020 --scale $scale, in $stack (log $work/replay.log)"
MOTCUA_STATE_DIR=$stack MOTCUA_BUILD_DIR=$build "$root/deploy/local/replay" --year 2020 \
    --scale "$scale" >"$work/replay.log" 2>&1
check_eq "the replay ran to its end" 0 "$?"
grep -A12 '^replaying 2020' "$work/replay.log" | sed 's/^/    /' >&2

# shellcheck source=/dev/null
. "$stack/env" || e2e_abort "no $stack/env"
E2E_DB_URL=$MOTCUA_PG_URL

check "the replay's own checks all passed" \
    grep -q "^  ok    dossiers received: $expected_dossiers (generated $expected_dossiers)" \
    "$work/replay.log"
check "no check of the replay failed" test "$(grep -c '^  FAIL' "$work/replay.log")" = 0
check_sql "every dossier of the year was received" "$expected_dossiers" \
    "SELECT count(*) FROM intake.dossier"
check_sql "the online ones came online" "$expected_online" \
    "SELECT count(*) FROM intake.dossier WHERE channel = 'online'"
check_sql "no generated submission was rejected" 0 "SELECT count(*) FROM intake.rejection"
check_sql "all were received in 2020" "$expected_dossiers" \
    "SELECT count(*) FROM intake.dossier WHERE received_at AT TIME ZONE 'Asia/Ho_Chi_Minh'
     >= '2020-01-01' AND received_at AT TIME ZONE 'Asia/Ho_Chi_Minh' < '2021-01-01'"
check_empty "no counter submission on a Sunday, Tết, 30/4-1/5 or 2/9" \
    "SELECT code, received_at FROM intake.dossier WHERE channel = 'counter' AND
     (extract(isodow FROM received_at AT TIME ZONE 'Asia/Ho_Chi_Minh') = 7 OR
      (received_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date IN ('2020-01-23', '2020-01-24',
      '2020-01-27', '2020-01-28', '2020-01-29', '2020-04-30', '2020-05-01', '2020-09-02'))"
check "the report prints the year's total" \
    grep -qE "^  dossiers received +$expected_dossiers \(2020-" "$work/replay.log"
breaches=$(sql "SELECT count(*) FROM deadline.ledger WHERE kind = 'overdue'")
check "the year has breaches" test "${breaches:-0}" -gt 0
check "the report prints one letter per breach" \
    grep -qE "^  apology letters +$breaches \(" "$work/replay.log"
check_empty "every breach has exactly one apology letter" \
    "SELECT dossier_code, b, n FROM (SELECT dossier_code, count(*) AS b FROM deadline.ledger
     WHERE kind = 'overdue' GROUP BY 1) l FULL JOIN (SELECT dossier_code, count(*) AS n
     FROM notify.letter GROUP BY 1) t USING (dossier_code) WHERE coalesce(b, 0) <> coalesce(n, 0)"
check_sql "every breach asked the late unit's head for an explanation" "$breaches" \
    "SELECT count(*) FROM notify.explanation"
check_sql "every letter and notice was delivered" 0 \
    "SELECT (SELECT count(*) FROM notify.letter WHERE status <> 'delivered')
          + (SELECT count(*) FROM notify.notice WHERE status <> 'delivered')"
check "some dossiers were transferred" \
    sql_true "SELECT count(*) > 0 FROM routing.transfer"
check_empty "transfers go from a ward or commune to the city's land or construction department" \
    "SELECT t.dossier_code, t.from_unit, t.to_unit FROM routing.transfer t
     JOIN catalog.unit f ON f.code = t.from_unit
     WHERE f.kind NOT IN ('ward', 'commune') OR t.to_unit NOT IN ('PTNMT', 'PQLDT')"
check_empty "a transferred dossier is held by the department it went to" \
    "SELECT t.dossier_code FROM routing.transfer t JOIN deadline.clock c USING (dossier_code)
     WHERE c.unit->>'code' <> t.to_unit"

again=$(motcua replay --year 2020 --scale "$scale" 2>&1)
check_eq "a second replay on the same stack is refused" 1 "$?"
check "it says a fresh stack is needed" grep -q "needs a fresh stack" <<<"$again"
motcua replay --year 2019 >/dev/null 2>&1
check_eq "a year the calendar does not cover is a usage error" 2 "$?"
