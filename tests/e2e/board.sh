#!/usr/bin/env bash
# End-to-end test of the read side on a stack of its own: runs the demo
# (deploy/local/demo: the five services on Apache Kafka, a month of sample
# dossiers lived through to mid-May) under a temporary MOTCUA_STATE_DIR and,
# while its replay runs, opens the board in headless chromium
# (tests/api/board.mjs, playwright-core):
#
#  - the page updates itself while the replay runs (no reload);
#  - after the replay, its figures per unit (open, due today, late now)
#    equal those of the deadline service's own clocks in the database, and
#    its on-time rates equal GET /v1/indicators;
#  - a lookup through the form shows the dossier's code and state;
#  - no script error; nothing wider than a phone's screen;
#  - screenshots (desktop, phone) are kept in <build>/test-output/.
#
# Then fuzzes motcua-api with schemathesis against schemas/openapi.yaml (the
# examples set to a real dossier of the run, so the lookup's 200 is checked
# too) and prints its figures.
#
#   bash tests/e2e/board.sh <build dir>
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/api/tools.sh
. "$root/tests/api/tools.sh"
# shellcheck source=deploy/local/lib.sh
. "$root/deploy/local/lib.sh"

if [ $# -ne 1 ] || [ ! -x "$1/services/motcua-api" ]; then
    echo "usage: bash board.sh <build dir> (with services/motcua-api built)" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
chromium=${CHROMIUM:-$(command -v chromium || true)}
if [ -z "$chromium" ]; then
    echo "board: chromium is not installed (tests/run installs Debian's chromium)" >&2
    echo "e2e: 0 passed, 1 failed" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/motcua-board.XXXXXX")
chmod 755 "$work" # the PostgreSQL cluster's user must reach the stack's state
stack=$work/stack
demo_pid=
browser_pid=

# shellcheck disable=SC2317 # reached through the trap
finish() {
    local status=$?
    trap - EXIT INT TERM
    [ -z "$browser_pid" ] || kill "$browser_pid" 2>/dev/null || true
    if [ -n "$demo_pid" ] && alive "$demo_pid"; then
        kill -TERM "$demo_pid" 2>/dev/null || true
        wait "$demo_pid" 2>/dev/null || true
    fi
    # The demo's stack goes as an operator removes it: every byte, also a
    # PostgreSQL cluster kept elsewhere (deploy/local/down --purge).
    local pg_data=
    [ ! -e "$stack/pg" ] || pg_data=$(pg_realdir "$stack/pg")
    if MOTCUA_STATE_DIR=$stack MOTCUA_BUILD_DIR=$build "$root/deploy/local/down" --purge \
        >"$work/down.log" 2>&1 && [ ! -e "$stack" ] && { [ -z "$pg_data" ] || [ ! -e "$pg_data" ]; }; then
        e2e_pass "deploy/local/down --purge stopped the demo's stack and removed its state"
    else
        e2e_fail "deploy/local/down --purge left $stack or ${pg_data:-its cluster} (see $work/down.log)"
    fi
    if [ "$E2E_FAILED" -gt 0 ] || [ "$status" -ne 0 ]; then
        [ "$E2E_FAILED" -gt 0 ] || e2e_fail "the test stopped with status $status"
        printf '\nfailed:\n' >&2
        printf '  - %s\n' "${E2E_FAILURES[@]}" >&2
        for f in demo.log browser.log result.json; do
            [ -f "$work/$f" ] && { printf '\n--- %s (end)\n' "$f" >&2; tail -n 40 "$work/$f" >&2; }
        done
        e2e_log "kept in $work"
        status=1
    else
        rm -rf "$work"
    fi
    e2e_exit "$status"
}
e2e_traps finish

e2e_log "installing the test tools (cached in $build/api-tools)"
node_modules=$(api_node "$build") || e2e_abort "cannot install playwright-core"
pybin=$(api_python "$build") || e2e_abort "cannot install schemathesis"

e2e_log "the demo, in $stack (log $work/demo.log)"
# The lookups of the browser and of schemathesis must not hit the per-client
# limit (tests/integration/test_api.c tests it).
MOTCUA_STATE_DIR=$stack MOTCUA_BUILD_DIR=$build MOTCUA_API_LOOKUP_BURST=100000 \
    MOTCUA_API_LOOKUPS_PER_MINUTE=100000 "$root/deploy/local/demo" >"$work/demo.log" 2>&1 &
demo_pid=$!

api_ready() {
    local port
    port=$(cat "$stack/run/api.port" 2>/dev/null) || return 1
    [ -n "$port" ] && curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz"
}
# Up starts the services before the replay: the board opens as it begins.
must "motcua-api of the demo is ready" 300 api_ready
api_port=$(<"$stack/run/api.port")
api=http://127.0.0.1:$api_port

# playwright-core is found from the script's own directory (ES modules
# ignore NODE_PATH): run a copy beside node_modules.
cp "$root/tests/api/board.mjs" "$node_modules/../board.mjs"
CHROMIUM=$chromium node "$node_modules/../board.mjs" "$api/board/" "$work" \
    >"$work/browser.log" 2>&1 &
browser_pid=$!

wait "$demo_pid"
demo_status=$?
demo_pid=
check_eq "the demo ran to its end" 0 "$demo_status"
[ "$demo_status" -eq 0 ] || e2e_abort "cannot go on"
check "the demo printed the board's address and a lookup" \
    grep -q "The board:  $api/board/" "$work/demo.log"

# shellcheck source=/dev/null
. "$stack/env"
E2E_DB_URL=$MOTCUA_PG_URL
# The demo's sender: the SMTP server takes every e-mail (the gateway is
# the one that fails now and then, on purpose), every letter arrives,
# and one signed PDF letter is shown with openssl's verdict.
check_eq "the demo's e-mails all reached the SMTP server" 0 \
    "$(sql "SELECT count(*) FROM notify.delivery WHERE channel = 'email'
             AND status NOT IN ('sending', 'delivered')")"
check_eq "every letter of the demo was delivered" 0 \
    "$(sql "SELECT count(*) FROM notify.letter WHERE status <> 'delivered'")"
check "the demo verified one signed PDF letter" grep -q "CMS Verification successful" "$work/demo.log"
# The gateway's first answers are "busy" then "no such subscriber": a
# letter retried, then sent on by its next channel, as the report says.
check "the demo's report shows a retry and a fallback" \
    bash -c "grep -qE 'attempts: retries after a temporary failure +[1-9]' '$work/demo.log' &&
             grep -qE 'attempts: fallbacks to the next channel +[1-9]' '$work/demo.log'"
# Accountability: warnings to the units, a request for an explanation per
# breach, most answered in time and the others escalated; the month frozen.
check "the demo's units were warned and asked to explain" \
    sql_true "SELECT (SELECT count(*) FROM notify.notice WHERE kind = 'warning') > 0
                 AND (SELECT count(*) FROM notify.explanation)
                     BETWEEN 1 AND (SELECT count(*) FROM notify.letter)"
check "some late units explained in time, the others were escalated" \
    sql_true "SELECT count(*) FILTER (WHERE outcome = 'explained') > 0
                 AND count(*) FILTER (WHERE outcome = 'escalated') > 0
                 AND count(*) FILTER (WHERE outcome = 'escalated')
                     = (SELECT count(*) FROM notify.notice WHERE kind = 'escalation')
              FROM notify.explanation"
check "the demo printed the month's ranking, frozen" \
    grep -q "^Ranking of units, 2024-03 (frozen" "$work/demo.log"
check_eq "the frozen ranking has a row per unit ranked" \
    "$(sql "SELECT count(*) FROM report.ranking WHERE month = '2024-03-01'")" \
    "$(grep -cE '^ +[0-9]+ +.+\(' <(sed -n '/^Ranking of units, 2024-03/,/^$/p' "$work/demo.log"))"
# A frozen month reads the same whatever arrives later: with every
# explanation forgotten, March's ranking is still the one printed, while
# the report (computed now) sees the change; a month not over is refused.
sed -n '/^Ranking of units, 2024-03/,/^$/p' "$work/demo.log" | sed '/^$/d' >"$work/ranking.frozen"
sql "DELETE FROM notify.explanation_given" >/dev/null
check "the frozen ranking of 2024-03 is printed unchanged after the data changed" \
    cmp -s "$work/ranking.frozen" <(motcua report --month 2024-03 --by unit)
check "the live report sees the change (no explanation in time any more)" \
    grep -qE '^ +explained in time +0$' <(motcua report)
check "a month not over yet cannot be frozen" \
    test "$(motcua report --month 2099-01 --by unit --freeze >/dev/null 2>&1; echo $?)" = 2
board_now=$(curl -fsS "$api/v1/board" | python3 -c 'import json,sys; print(json.load(sys.stdin)["now"])')
board_month=${board_now:0:7}
# "Not answered" in the ranking is what notify decided on the services'
# clock (the request escalated), not a deadline past on the machine's wall
# clock: a request due after the clock's now is not counted, and counts
# once escalated.
not_answered() {
    motcua report --month "$board_month" --by unit | grep -F "($1)" | awk '{print $NF}'
}
ranked_unit=$(sql "SELECT l.unit_code FROM notify.letter l JOIN deadline.clock c
                     ON c.dossier_code = l.dossier_code ORDER BY l.issued_at DESC LIMIT 1")
sql "INSERT INTO notify.explanation (dossier_code, breach, unit_code, requested_at, due_at, request_id)
     VALUES ('000.00.00.H17-000000-0000', 1, $(q "$ranked_unit"),
             $(q "$board_now")::timestamptz - interval '1 hour',
             $(q "$board_now")::timestamptz + interval '1 hour', gen_random_uuid())" >/dev/null
before=$(not_answered "$ranked_unit")
sql "UPDATE notify.explanation SET outcome = 'escalated', settled_at = due_at
     WHERE dossier_code = '000.00.00.H17-000000-0000'" >/dev/null
after=$(not_answered "$ranked_unit")
sql "DELETE FROM notify.explanation WHERE dossier_code = '000.00.00.H17-000000-0000'" >/dev/null
check "the ranking does not count a request due after the clock's now as not answered ($before)" \
    test "$((${after:-0} - ${before:-0}))" = 1
# What the board must show, from the deadline service's own clocks (not the
# projection), the on-time rates from the API, and a dossier with a letter
# for the lookup.
sql "WITH now AS (SELECT $(q "$board_now")::timestamptz AS t),
     day AS (SELECT (date_trunc('day', t AT TIME ZONE 'Asia/Ho_Chi_Minh')
                     AT TIME ZONE 'Asia/Ho_Chi_Minh') AS s FROM now),
     u AS (SELECT c.unit->>'code' AS code, count(*) AS open,
                  count(*) FILTER (WHERE c.due_at >= day.s AND c.due_at < day.s + interval '1 day')
                      AS due_today,
                  count(*) FILTER (WHERE c.breaches > 0 OR c.due_at < now.t) AS late
             FROM deadline.clock c, now, day WHERE c.state IN ('open', 'paused') GROUP BY 1)
     SELECT json_build_object('units', coalesce((SELECT json_object_agg(code, json_build_object(
         'open', open, 'due_today', due_today, 'late', late)) FROM u), '{}'),
         'lookup', (SELECT json_build_object('code', d.code, 'id_number',
             d.submission->'applicant'->>'id_number') FROM intake.dossier d
             JOIN notify.letter l ON l.dossier_code = d.code ORDER BY d.code LIMIT 1))" \
    >"$work/db.json"
curl -fsS "$api/v1/indicators?month=$board_month" >"$work/indicators.json"
python3 - "$work" <<'PY'
import json, sys
d = sys.argv[1]
db = json.load(open(d + "/db.json"))
ind = json.load(open(d + "/indicators.json"))
db["rates"] = {u["unit"]["code"]: u["on_time_rate"] for u in ind["units"]}
json.dump(db, open(d + "/expected.json", "w"))
PY
lookup_code=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lookup"]["code"])' "$work/db.json")
lookup_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lookup"]["id_number"])' "$work/db.json")
touch "$work/demo.done"

e2e_log "the browser's findings"
wait "$browser_pid"
browser_pid=
check "the browser test ran (result.json)" test -s "$work/result.json"
result() {
    python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$work/result.json" "$1"
}
check_eq "no script error on the page" "[]" "$(result 'r["errors"]')"
check "the page updated itself while the replay ran (distinct 'updated' texts seen)" \
    test "$(result 'len({s["updated"] for s in r["seen"]})')" -ge 3
check_eq "its figures per unit equal the database's (open, due today, late; on-time rate)" \
    "[]" "$(result 'r.get("differences")')"
check "it compared every unit of the board" test "$(result 'r.get("units_compared", 0)')" -ge 20
check_eq "the lookup shows the dossier asked for" "$lookup_code" "$(result 'r["lookup"]["code"]')"
expected_state=$(curl -fsS "$api/v1/dossiers/$lookup_code?id_number=$lookup_id" |
    python3 -c 'import json,sys; d = json.load(sys.stdin); print(d["state"], d["national_status"]["code"])')
check "the lookup shows its state and national code ($expected_state)" \
    grep -q "(mã ${expected_state#* })" <<<"$(result 'r["lookup"]["state"]')"
check "the lookup lists the dossier's steps" test "$(result 'r["lookup"]["steps"]')" -ge 3
check "the chart has a bar for each month with dossiers" test "$(result 'r["totals"]["trend_bars"]')" -ge 2
check_eq "nothing is wider than a phone's screen (390 px)" False "$(result 'r["phone_overflow"]')"
mkdir -p "$build/test-output"
for shot in board.png board-phone.png; do
    if cp "$work/$shot" "$build/test-output/$shot" 2>/dev/null; then
        e2e_pass "screenshot kept: $build/test-output/$shot"
    else
        e2e_fail "no screenshot $shot"
    fi
done
e2e_log "board totals: $(result 'r["totals"]')"

e2e_log "schemathesis against $api (examples: $lookup_code)"
sed -e "s|example: 000.00.06.H17-240301-0001|example: $lookup_code|" \
    -e "s|example: '017190000123'|example: '$lookup_id'|" \
    "$root/schemas/openapi.yaml" >"$work/openapi.yaml"
(cd "$work" && "$pybin/schemathesis" run "$work/openapi.yaml" --url "$api" --checks all \
    --max-examples 50 --exclude-path /v1/events --seed 1 --no-color) >"$work/schemathesis.log" 2>&1
st_status=$?
sed -n '/SUMMARY/,$p' "$work/schemathesis.log" >&2
check_eq "schemathesis finds no failure" 0 "$st_status"
