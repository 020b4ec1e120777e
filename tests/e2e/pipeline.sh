#!/usr/bin/env bash
# End-to-end test of the whole pipeline (issue 2, section 5): the four real
# service binaries as processes, the embedded broker and a database of our
# own, a hand-written month of dossiers and a crash in the middle.
#
#   bash tests/e2e/pipeline.sh <build dir | install prefix>
#
# Needs MOTCUA_TEST_PG_URL (a superuser URL on the maintenance database, as
# ./tests/run provides). Creates database e2e_<pid>; on the Apache Kafka
# broker of MOTCUA_TEST_KAFKA_BROKERS (./tests/run starts one) provisions the
# topics under the prefix e2e-<pid>. with `motcua topics apply`, else starts
# motcua-devkafka; starts motcua-{intake,router,deadline,notify,api} with MOTCUA_CLOCK=topic, and:
#
#  wave 1  six valid submissions (distinct procedures, wards, channels,
#          received 4-5 March 2024), three invalid ones, one that is not JSON
#          and a duplicate; unit updates (result ready, returned, a
#          reschedule and a refused second reschedule) and daily clock ticks
#          to 20 March. Asserts receipt, routing, rejections with paths, the
#          dead letter with its bytes, no duplicate, and exactly one apology
#          letter per breach (two for the rescheduled dossier that stays
#          unfinished), none for dossiers finished or returned in time.
#  wave 2  six more dossiers (21-22 March), a duplicate and an invalid one;
#          the router is killed -9 between two halves of the wave and
#          restarted; the deadline service is killed -9 right after a breach
#          was recorded, and notify right after a letter was written, and
#          each is restarted; daily ticks to 27 March. Asserts that
#          nothing is lost or doubled: rows in every service's tables, and
#          distinct events (by event_id) per dossier on every topic; then
#          delivery receipts for two letters (delivered; bounced, the SMTP
#          reply naming an address). No personal data (names, ids, phones,
#          e-mails, addresses, officers, the bounced address) in any log or
#          /metrics.
#
# Finally stops every process it started (SIGTERM; exit 0 within 30 s),
# drops the database and prints "e2e: N passed, M failed".
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: bash pipeline.sh <build dir | install prefix>" >&2
    exit 2
fi
if ! e2e_binaries "$1"; then
    echo "e2e: 0 passed, 1 failed" >&2
    exit 1
fi
if [ -z "${MOTCUA_TEST_PG_URL:-}" ]; then
    echo "e2e: MOTCUA_TEST_PG_URL is not set: give a PostgreSQL superuser URL such as" \
        "postgresql://motcua@127.0.0.1:5432/postgres (./tests/run sets it)" >&2
    echo "e2e: 0 passed, 1 failed" >&2
    exit 1
fi
for tool in psql curl; do
    command -v "$tool" >/dev/null || {
        echo "e2e: $tool is not installed" >&2
        exit 1
    }
done

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/motcua-e2e.XXXXXX")
e2e_database "e2e_$$"
db_created=

# shellcheck disable=SC2317 # reached through the trap
finish() {
    local status=$?
    trap - EXIT INT TERM
    stop_all
    if [ -n "$db_created" ]; then
        sql_admin "DROP DATABASE IF EXISTS $E2E_DB WITH (FORCE)" >/dev/null 2>&1 ||
            e2e_log "could not drop database $E2E_DB"
    fi
    if [ "$E2E_FAILED" -gt 0 ] || [ "$status" -ne 0 ]; then
        [ "$E2E_FAILED" -gt 0 ] || e2e_fail "the test stopped with status $status"
        printf '\nfailed:\n' >&2
        printf '  - %s\n' "${E2E_FAILURES[@]}" >&2
        dump_logs
        status=1
    fi
    if [ "$status" -eq 0 ]; then
        rm -rf "$E2E_TMP"
    else
        e2e_log "logs kept in $E2E_TMP"
    fi
    e2e_exit "$status"
}
e2e_traps finish

# ============================================================================
e2e_log "database $E2E_DB, broker and four services (logs in $E2E_TMP)"
sql_admin "CREATE DATABASE $E2E_DB" >/dev/null || e2e_abort "cannot create database $E2E_DB"
db_created=1

unset MOTCUA_CONFIG_FILE MOTCUA_GROUP_ID MOTCUA_HTTP_PORT MOTCUA_TOPIC_PREFIX
export MOTCUA_PG_URL=$E2E_DB_URL
export MOTCUA_CLOCK=topic
export MOTCUA_TOPIC_PARTITIONS=3

mc migrate >"$E2E_TMP/cli.log" 2>&1 || e2e_abort "motcua migrate failed"
mc catalog load >>"$E2E_TMP/cli.log" 2>&1 || e2e_abort "motcua catalog load failed"

# The Apache Kafka broker tests/run started: topics of our own under a
# prefix of our own, provisioned as an operator does it (or, without Apache
# Kafka, the embedded mock cluster).
e2e_broker "e2e-$$."
status=$?
if [ -n "${MOTCUA_TEST_KAFKA_BROKERS:-}" ]; then
    check_eq "motcua topics apply creates the topics on Apache Kafka" 0 "$status"
    check_eq "every topic of the table was created" "$(mc topics list | wc -l)" \
        "$(grep -c '^created ' "$E2E_TMP/topics.log")"
    mc topics apply >"$E2E_TMP/topics-again.log" 2>&1
    check_eq "a second motcua topics apply finds nothing to do" "0 $(mc topics list | wc -l)" \
        "$(grep -c '^created ' "$E2E_TMP/topics-again.log") $(grep -c '^ok ' "$E2E_TMP/topics-again.log")"
fi

# The clock starts before anything happens (the deadline service has no
# "now" until the first tick).
tick 2024-03-01T00:00:00+07:00 || e2e_abort "motcua tick failed"

SERVICES=(intake router deadline notify api)
for svc in "${SERVICES[@]}"; do
    start_service "$svc"
done
for svc in "${SERVICES[@]}"; do
    must "motcua-$svc answers 200 on /readyz" 60 ready "$svc"
done
e2e_pass "the five services are ready ($((SECONDS - E2E_STARTED)) s)"

# ---- the hand-written submissions ------------------------------------------------
SRC=e2e-portal

# sub EXTERNAL_ID PROCEDURE WARD CHANNEL SUBMITTED_AT RECEIVED_AT APPLICANT_JSON [MORE_JSON]
sub() {
    printf '%s/%s\t{"source":"%s","external_id":"%s","submitted_at":"%s","received_at":"%s","channel":"%s","procedure_code":"%s","ward_code":"%s","applicant":%s%s}\n' \
        "$SRC" "$1" "$SRC" "$1" "$5" "$6" "$4" "$2" "$3" "$7" "${8:+,$8}"
}

# Wave 1: six valid dossiers, received Monday 4 and Tuesday 5 March 2024.
#   W1-A  1.001612 household business, 3 wd, district -> PTCKH   finished in time
#   W1-B  1.001193 birth, same day, commune Yên Mông -> 04813      late
#   W1-C  X.BUILD.01 building permit, 15 cd -> PQLDT               returned in time
#   W1-D  2.000528 foreign birth, same day, district -> PTP        rescheduled, late twice
#   W1-E  1.001022 parentage, 3 wd, commune Độc Lập -> 04921       late
#   W1-F  2.001035 contract certification, 2 wd -> ward 04816      finished in time
wave1_valid() {
    sub W1-A 1.001612 04807 counter 2024-03-04T08:55:00+07:00 2024-03-04T09:00:00+07:00 \
        '{"kind":"citizen","name":"Nguyễn Thị Lan","id_number":"017190004321","phone":"0912 345 678","address":"Tổ 5, phường Phương Lâm"}' \
        '"summary":"Đăng ký thành lập hộ kinh doanh tạp hóa Lan Anh.","documents":[{"name":"Giấy đề nghị đăng ký hộ kinh doanh","kind":"original","count":1},{"name":"Bản sao CCCD","kind":"copy","count":1}],"notify_channels":["sms","post"]'
    sub W1-B 1.001193 04813 online 2024-03-04T09:58:12+07:00 2024-03-04T10:00:00+07:00 \
        '{"kind":"citizen","name":"Quách Văn Minh","id_number":"017095001111","email":"minh.qv@example.vn"}' \
        '"notify_channels":["email"]'
    sub W1-C X.BUILD.01 04894 postal 2024-03-02T16:00:00+07:00 2024-03-04T14:00:00+07:00 \
        '{"kind":"business","name":"Công ty TNHH Xây dựng Kỳ Sơn","id_number":"5400123456","address":"Phường Kỳ Sơn, thành phố Hòa Bình"}'
    sub W1-D 2.000528 04792 counter 2024-03-05T07:55:00+07:00 2024-03-05T08:00:00+07:00 \
        '{"kind":"citizen","name":"Bùi Thị Hoa","id_number":"017301009876","address":"Phường Tân Hòa, thành phố Hòa Bình"}' \
        '"reception_point":"TN-KYSON","notify_channels":["post"]'
    sub W1-E 1.001022 04921 online 2024-03-05T09:20:00+07:00 2024-03-05T09:30:00+07:00 \
        '{"kind":"citizen","name":"Đinh Công Sơn","id_number":"017088004455","phone":"+84 912 000 111"}'
    sub W1-F 2.001035 04816 counter 2024-03-04T08:25:00+07:00 2024-03-04T08:30:00+07:00 \
        '{"kind":"citizen","name":"Vũ Thị Thu","id_number":"017150007777"}'
}
NOTJSON_KEY="$SRC/W1-NOTJSON"
NOTJSON='{"source":"e2e-portal","external_id":"W1-NOTJSON", this is not JSON: ngày 5/3'
wave1_bad() {
    # Schema violations: a channel that does not exist, no id_number, an extra field.
    printf '%s\t%s\n' "$SRC/W1-BAD-SCHEMA" '{"source":"e2e-portal","external_id":"W1-BAD-SCHEMA","submitted_at":"2024-03-04T09:00:00+07:00","channel":"fax","procedure_code":"1.001193","ward_code":"04807","applicant":{"kind":"citizen","name":"Lê Văn Tám"},"priority":"urgent"}'
    # A procedure the catalog does not have.
    sub W1-BAD-PROC 9.999999 04807 online 2024-03-04T10:00:00+07:00 2024-03-04T10:00:00+07:00 \
        '{"kind":"citizen","name":"Hà Thị Nga","id_number":"017200000001"}'
    # A department where a ward belongs, and received before submitted.
    sub W1-BAD-WARD 1.001193 PTCKH counter 2024-03-04T11:00:00+07:00 2024-03-04T10:00:00+07:00 \
        '{"kind":"citizen","name":"Hà Văn Hùng","id_number":"017200000002"}'
    printf '%s\t%s\n' "$NOTJSON_KEY" "$NOTJSON"
    # W1-A again (a portal retry, with a changed summary): creates nothing.
    sub W1-A 1.001612 04807 counter 2024-03-04T08:55:00+07:00 2024-03-04T09:00:00+07:00 \
        '{"kind":"citizen","name":"Nguyễn Thị Lan","id_number":"017190004321"}' \
        '"summary":"GỬI LẠI"'
}

# Expected routing (from catalog.routing_rule for these procedures).
declare -A UNIT=([W1-A]=PTCKH [W1-B]=04813 [W1-C]=PQLDT [W1-D]=PTP [W1-E]=04921 [W1-F]=04816
    [W2-G]=04789 [W2-H]=04795 [W2-I]=PTCKH [W2-J]=PTP [W2-K]=PTCKH [W2-L]=04828)
# Expected apology letters (= overdue events) per dossier at the end.
declare -A LETTERS=([W1-A]=0 [W1-B]=1 [W1-C]=0 [W1-D]=2 [W1-E]=1 [W1-F]=0
    [W2-G]=1 [W2-H]=0 [W2-I]=1 [W2-J]=1 [W2-K]=0 [W2-L]=1)
declare -A CODE=()

# Waits until the deadline service has applied N updates.
wait_updates() {
    wait_for "deadline applied $1 updates" 30 sql_is "$1" "SELECT count(*) FROM deadline.update"
}

# day_tick RFC3339: publishes the tick and waits until every clock due by then fired.
day_tick() {
    tick "$1" || e2e_abort "motcua tick $1 failed"
    must "deadline swept to $1" 30 swept_to "$1"
}

outboxes_empty() {
    sql_is 0 "SELECT (SELECT count(*) FROM intake.outbox) + (SELECT count(*) FROM routing.outbox)
        + (SELECT count(*) FROM deadline.outbox) + (SELECT count(*) FROM notify.outbox)"
}

# ============================================================================
e2e_log "wave 1: submissions"
{
    wave1_valid
    wave1_bad
} | produce submissions || e2e_fail "motcua produce submissions failed"

must "intake received 6 dossiers" 30 sql_is 6 "SELECT count(*) FROM intake.dossier"
must "intake rejected 3 submissions and answered the non-JSON one" 30 sql_is 4 "SELECT count(*) FROM intake.rejection"
must "intake saw the duplicate" 30 metric_is 1 motcua_intake_submissions_duplicate_total intake
must "intake dead-lettered the non-JSON message" 30 metric_is 1 motcua_intake_deadletters_total intake
must "router assigned 6 dossiers" 30 sql_is 6 "SELECT count(*) FROM routing.assignment"
must "deadline has 6 assigned clocks" 30 \
    sql_is 6 "SELECT count(*) FROM deadline.clock WHERE received AND unit IS NOT NULL"
for x in W1-A W1-B W1-C W1-D W1-E W1-F; do
    CODE[$x]=$(dossier_code "$x")
done
e2e_log "wave 1 codes: $(for x in "${!CODE[@]}"; do printf '%s=%s ' "$x" "${CODE[$x]}"; done)"

e2e_log "wave 1: updates and daily ticks"
day_tick 2024-03-04T18:00:00+07:00
check_sql "W1-B (same day, no result) is overdue after 4 March 17:00" 1 \
    "SELECT count(*) FROM deadline.ledger WHERE kind = 'overdue' AND dossier_code = $(q "${CODE[W1-B]}")"

{
    update_line "${CODE[W1-F]}" result_ready 2024-03-05T10:00:00+07:00 04816
    update_line "${CODE[W1-D]}" processing 2024-03-05T09:00:00+07:00 PTP
    update_line "${CODE[W1-D]}" reschedule 2024-03-05T14:00:00+07:00 PTP \
        "Cần xác minh thông tin với cơ quan đại diện ở nước ngoài" 2024-03-08T17:00:00+07:00
} | produce dossier.updates
wait_updates 3
day_tick 2024-03-05T18:00:00+07:00

{
    update_line "${CODE[W1-A]}" result_ready 2024-03-06T10:00:00+07:00 PTCKH
    update_line "${CODE[W1-C]}" returned 2024-03-06T11:00:00+07:00 PQLDT \
        "Hồ sơ không thuộc trường hợp được cấp phép"
    # A second reschedule is refused: the appointment moves at most once.
    update_line "${CODE[W1-D]}" reschedule 2024-03-06T09:00:00+07:00 PTP \
        "Xin thêm thời gian" 2024-03-12T17:00:00+07:00
} | produce dossier.updates
wait_updates 6
for day in 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20; do
    day_tick "2024-03-${day}T18:00:00+07:00"
done
must "notify wrote 4 letters for wave 1" 30 sql_is 4 "SELECT count(*) FROM notify.letter"
must "wave 1 outboxes are empty" 30 outboxes_empty

# ---- wave 1 assertions ------------------------------------------------------
e2e_log "wave 1: assertions"
load_topics submission.rejected dossier.received dossier.assigned dossier.deadlines \
    notifications deadletter || e2e_fail "could not read the topics"

check_sql "6 dossiers from 6 valid submissions (no duplicate)" 6 \
    "SELECT count(*) FROM intake.dossier"
for x in W1-A W1-B W1-C W1-D W1-E W1-F; do
    check_sql "$x received exactly once, with a code in the national format for its receiving agency and day" 1 \
        "SELECT count(*) FROM intake.dossier WHERE source = '$SRC' AND external_id = '$x'
           AND code ~ '^[0-9A-Za-z.]{1,40}-[0-9]{6}-[0-9]{4,6}\$'
           AND code = receiving_agency || '-' || to_char(received_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYMMDD') || '-' || split_part(code, '-', 3)"
done
check_sql "the duplicate changed nothing (first summary kept)" "Đăng ký thành lập hộ kinh doanh tạp hóa Lan Anh." \
    "SELECT submission->>'summary' FROM intake.dossier WHERE external_id = 'W1-A'"
check_sql "dossier codes are distinct" 6 "SELECT count(DISTINCT code) FROM intake.dossier"
check_sql "W1-D received at reception point TN-KYSON (its agency in the code)" 1 \
    "SELECT count(*) FROM intake.dossier d JOIN catalog.unit u ON u.code = 'TN-KYSON'
      WHERE d.external_id = 'W1-D' AND d.receiving_agency = u.agency_id"
check_sql "due dates: W1-A 3 wd, W1-B same day, W1-C 15 cd, W1-D same day, W1-E 3 wd, W1-F 2 wd" \
    "W1-A 2024-03-07T09:00:00+07:00,W1-B 2024-03-04T17:00:00+07:00,W1-C 2024-03-19T14:00:00+07:00,W1-D 2024-03-05T17:00:00+07:00,W1-E 2024-03-08T09:30:00+07:00,W1-F 2024-03-06T08:30:00+07:00" \
    "SELECT string_agg(external_id || ' ' || motcua_rfc3339(due_at), ',' ORDER BY external_id) FROM intake.dossier"

for x in W1-A W1-B W1-C W1-D W1-E W1-F; do
    check_sql "$x assigned to ${UNIT[$x]}" "${UNIT[$x]}" \
        "SELECT string_agg(unit_code, ',') FROM routing.assignment WHERE dossier_code = $(q "${CODE[$x]}")"
done
check_empty "every assignment follows the catalog's routing rule for its procedure" \
    "SELECT a.dossier_code, a.unit_code FROM routing.assignment a
       JOIN catalog.routing_rule r ON r.procedure_code = a.procedure_code AND r.ward_code IS NULL
      WHERE a.unit_code <> CASE WHEN r.target = 'ward' THEN a.ward_code ELSE r.unit_code END"

check_empty "dossier.received: exactly one event per dossier, naming its submission" \
    "SELECT d.external_id, count(DISTINCT m.payload->>'event_id') FROM intake.dossier d
       LEFT JOIN e2e.msg m ON m.topic = 'dossier.received' AND m.payload->>'dossier_code' = d.code
        AND m.key = d.code AND m.payload->'data'->>'external_id' = d.external_id
      GROUP BY d.external_id HAVING count(DISTINCT m.payload->>'event_id') <> 1"
check_empty "dossier.assigned: exactly one event per dossier, with the right unit" \
    "SELECT d.external_id, count(DISTINCT m.payload->>'event_id') FROM intake.dossier d
       JOIN routing.assignment a ON a.dossier_code = d.code
       LEFT JOIN e2e.msg m ON m.topic = 'dossier.assigned' AND m.payload->>'dossier_code' = d.code
        AND m.payload->'data'->'unit'->>'code' = a.unit_code
      GROUP BY d.external_id HAVING count(DISTINCT m.payload->>'event_id') <> 1"

# Rejections: one event each, naming the problems by path.
# rejected_paths EXTERNAL_ID: the sorted, distinct paths of its rejection events.
rejected_paths() {
    sql "SELECT string_agg(DISTINCT p->>'path', ' ' ORDER BY p->>'path') FROM e2e.msg m,
           jsonb_array_elements(m.payload->'data'->'problems') p
          WHERE m.topic = 'submission.rejected' AND m.payload->'data'->>'external_id' = $(q "$1")"
}
check_eq "W1-BAD-SCHEMA rejected naming /applicant/id_number, /channel and /priority" \
    "/applicant/id_number /channel /priority" "$(rejected_paths W1-BAD-SCHEMA)"
check_eq "W1-BAD-PROC rejected naming /procedure_code" "/procedure_code" "$(rejected_paths W1-BAD-PROC)"
check_eq "W1-BAD-WARD rejected naming /received_at and /ward_code" "/received_at /ward_code" \
    "$(rejected_paths W1-BAD-WARD)"
check_eq "the non-JSON W1-NOTJSON is answered to its portal naming the problem" \
    "1" "$(sql "SELECT count(*) FROM e2e.msg m, jsonb_array_elements(m.payload->'data'->'problems') p
          WHERE m.topic = 'submission.rejected' AND m.payload->'data'->>'external_id' = 'W1-NOTJSON'
            AND p->>'path' = '' AND p->>'problem' LIKE 'not JSON%'")"
check_empty "each invalid or unreadable submission has exactly one submission.rejected event, keyed source/external_id" \
    "SELECT x, count(DISTINCT m.payload->>'event_id') FROM unnest(ARRAY['W1-BAD-SCHEMA','W1-BAD-PROC','W1-BAD-WARD','W1-NOTJSON']) x
       LEFT JOIN e2e.msg m ON m.topic = 'submission.rejected' AND m.payload->'data'->>'external_id' = x
        AND m.key = '$SRC/' || x AND m.payload->>'type' = 'submission.rejected'
      GROUP BY x HAVING count(DISTINCT m.payload->>'event_id') <> 1"
check_sql "no dossier for an invalid or non-JSON submission" 0 \
    "SELECT count(*) FROM intake.dossier WHERE external_id LIKE 'W1-BAD%' OR external_id = 'W1-NOTJSON'"
check_sql "the problems are stored with the rejection too" 4 \
    "SELECT count(*) FROM intake.rejection WHERE jsonb_array_length(problems) > 0"

# The dead letter keeps the original bytes.
nj_b64=$(printf '%s' "$NOTJSON" | base64 -w0)
check_sql "the non-JSON submission is one dead letter on the deadletter topic (from ${MOTCUA_TOPIC_PREFIX:-motcua.}submissions, with partition, offset, reason and its original bytes)" 1 \
    "SELECT count(DISTINCT payload->>'event_id') FROM e2e.msg WHERE topic = 'deadletter'
        AND key = $(q "$NOTJSON_KEY") AND payload->'data'->>'topic' = $(q "${MOTCUA_TOPIC_PREFIX:-motcua.}submissions")
        AND payload->'data'->>'consumer' = 'motcua-intake'
        AND jsonb_typeof(payload->'data'->'partition') = 'number' AND jsonb_typeof(payload->'data'->'offset') = 'number'
        AND payload->'data'->>'reason' LIKE 'not JSON%'
        AND payload->'data'->>'original_text' = $(q "$NOTJSON")
        AND payload->'data'->>'original_base64' = $(q "$nj_b64")"
check_sql "nothing else was dead-lettered" 1 \
    "SELECT count(DISTINCT payload->>'event_id') FROM e2e.msg WHERE topic = 'deadletter'"

# The clocks and the letters.
check_sql "clocks: W1-A finished, W1-C returned, W1-F finished, the late ones open" \
    "W1-A finished,W1-B open,W1-C returned,W1-D open,W1-E open,W1-F finished" \
    "SELECT string_agg(d.external_id || ' ' || c.state, ',' ORDER BY d.external_id)
       FROM deadline.clock c JOIN intake.dossier d ON d.code = c.dossier_code"
check_sql "W1-D rescheduled once to 8 March 17:00, the official due date kept" \
    "2024-03-05T17:00:00+07:00 2024-03-08T17:00:00+07:00" \
    "SELECT motcua_rfc3339(due_at) || ' ' || motcua_rfc3339(rescheduled_due_at) FROM deadline.clock
      WHERE dossier_code = $(q "${CODE[W1-D]}")"
check_sql "the second reschedule of W1-D is refused on dossier.deadlines" 1 \
    "SELECT count(DISTINCT payload->>'event_id') FROM e2e.msg WHERE topic = 'dossier.deadlines'
        AND payload->>'type' = 'dossier.reschedule_refused' AND payload->>'dossier_code' = $(q "${CODE[W1-D]}")"
check_sql "ledger: W1-B, W1-D (due date and rescheduled date) and W1-E breached, nothing else" \
    "W1-B overdue,W1-D overdue,W1-D overdue-rescheduled,W1-E overdue" \
    "SELECT string_agg(d.external_id || ' ' || l.rung, ',' ORDER BY d.external_id, l.rung)
       FROM deadline.ledger l JOIN intake.dossier d ON d.code = l.dossier_code WHERE l.kind = 'overdue'"

# letters_ok: per dossier, letters in notify.letter and distinct events on
# dossier.deadlines (overdue) and notifications equal LETTERS[x].
letters_ok() {
    local x got
    for x in "$@"; do
        got=$(sql "SELECT (SELECT count(*) FROM notify.letter WHERE dossier_code = $(q "${CODE[$x]}"))
            || ' ' || (SELECT count(DISTINCT payload->>'event_id') FROM e2e.msg WHERE topic = 'dossier.deadlines'
                 AND payload->>'type' = 'dossier.overdue' AND payload->>'dossier_code' = $(q "${CODE[$x]}"))
            || ' ' || (SELECT count(DISTINCT payload->>'event_id') FROM e2e.msg WHERE topic = 'notifications'
                 AND payload->>'type' = 'notification.letter' AND payload->>'dossier_code' = $(q "${CODE[$x]}"))")
        check_eq "$x: ${LETTERS[$x]} overdue event(s), letter(s) and notification.letter event(s)" \
            "${LETTERS[$x]} ${LETTERS[$x]} ${LETTERS[$x]}" "$got"
    done
}
letters_ok W1-A W1-B W1-C W1-D W1-E W1-F
# Breach 2 (Friday 8 March 18:00): 3 working days from the next opening.
check_sql "W1-D: letters for breach 1 and 2, appointing the rescheduled date, then 3 working days later" \
    "1 2024-03-08T17:00:00+07:00,2 2024-03-13T17:00:00+07:00" \
    "SELECT string_agg(breach || ' ' || motcua_rfc3339(new_appointment_at), ',' ORDER BY breach)
       FROM notify.letter WHERE dossier_code = $(q "${CODE[W1-D]}")"
check_empty "each letter names its dossier and procedure, is signed by the city Chairman and is on the topic as stored" \
    "SELECT l.dossier_code FROM notify.letter l
      WHERE NOT (l.body LIKE '%' || l.dossier_code || '%' AND l.body LIKE '%Nguyễn Văn Thành%'
        AND l.body LIKE '%PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ%'
        AND EXISTS (SELECT 1 FROM e2e.msg m WHERE m.topic = 'notifications'
              AND m.payload->'data'->>'notification_id' = l.notification_id::text
              AND m.payload->'data'->>'body' = l.body AND (m.payload->'data'->>'breach')::int = l.breach))"
check_sql "delivery channels: W1-B by e-mail, W1-D by post, W1-E by SMS" \
    "W1-B 1 email,W1-D 1 post,W1-D 2 post,W1-E 1 sms" \
    "SELECT string_agg(d.external_id || ' ' || l.breach || ' ' || l.delivery_channel, ',' ORDER BY d.external_id, l.breach)
       FROM notify.letter l JOIN intake.dossier d ON d.code = l.dossier_code"
check_sql "motcua count overdue" 3 "SELECT $(mc count overdue 2>/dev/null || echo -1)"
check_sql "motcua count letters" 4 "SELECT $(mc count letters 2>/dev/null || echo -1)"

# ============================================================================
# Wave 2, with crashes. Received Thursday 21 and Friday 22 March 2024.
#   W2-G  1.001193 same day -> 04789             late (21 March 17:00)
#   W2-H  1.000894 same day -> 04795             finished in time
#   W2-I  1.001612 3 wd -> PTCKH                 late (26 March 11:00)
#   W2-J  1.001766 same day after 15:00 -> PTP   late (25 March 17:00)
#   W2-K  2.000720 3 wd -> PTCKH                 finished in time
#   W2-L  2.000884 same day -> 04828             late (22 March 17:00)
wave2_first() {
    sub W2-G 1.001193 04789 counter 2024-03-21T08:50:00+07:00 2024-03-21T09:00:00+07:00 \
        '{"kind":"citizen","name":"Nguyễn Đức Anh","id_number":"017099002222","address":"Phường Thái Bình"}'
    sub W2-H 1.000894 04795 online 2024-03-21T10:00:00+07:00 2024-03-21T10:00:00+07:00 \
        '{"kind":"citizen","name":"Trần Thị Mai","id_number":"017099003333","email":"mai.tt@example.vn"}'
    sub W2-I 1.001612 04801 online 2024-03-21T11:00:00+07:00 2024-03-21T11:00:00+07:00 \
        '{"kind":"citizen","name":"Đinh Văn Tâm","id_number":"017099004444","phone":"0988 111 222"}' \
        '"notify_channels":["zalo"]'
    # A retry of W1-B from the portal: nothing new.
    sub W1-B 1.001193 04813 online 2024-03-04T09:58:12+07:00 2024-03-04T10:00:00+07:00 \
        '{"kind":"citizen","name":"Quách Văn Minh","id_number":"017095001111","email":"minh.qv@example.vn"}' \
        '"notify_channels":["email"]'
}
wave2_second() {
    sub W2-J 1.001766 04819 postal 2024-03-20T10:00:00+07:00 2024-03-22T15:30:00+07:00 \
        '{"kind":"citizen","name":"Lò Văn Páo","id_number":"B1234567","address":"Phường Dân Chủ"}'
    sub W2-K 2.000720 04825 counter 2024-03-22T08:00:00+07:00 2024-03-22T08:00:00+07:00 \
        '{"kind":"business","name":"Hộ kinh doanh Bình An","id_number":"17H8001234"}'
    sub W2-L 2.000884 04828 counter 2024-03-22T09:00:00+07:00 2024-03-22T09:00:00+07:00 \
        '{"kind":"agency","name":"Trường Tiểu học Thống Nhất","id_number":"QHNS1054321","address":"Phường Thống Nhất"}'
    printf '%s\t%s\n' "$SRC/W2-BAD-EMPTY" '{"source":"e2e-portal","external_id":"W2-BAD-EMPTY","submitted_at":"2024-03-22T09:00:00+07:00","channel":"online","procedure_code":"","ward_code":"04828","applicant":{"kind":"citizen","name":"","id_number":"017000000003"}}'
}

e2e_log "wave 2: first half, then kill -9 the router"
wave2_first | produce submissions || e2e_fail "motcua produce submissions failed"
must "router assigned the first half of wave 2" 30 sql_is 9 "SELECT count(*) FROM routing.assignment"
kill9 router
e2e_pass "router killed -9 right after assigning (outbox and offsets maybe unsent)"

wave2_second | produce submissions || e2e_fail "motcua produce submissions failed"
must "intake received the second half while the router was down" 30 \
    sql_is 12 "SELECT count(*) FROM intake.dossier"
must "intake rejected the invalid one" 30 sql_is 5 "SELECT count(*) FROM intake.rejection"
check_sql "no assignment while the router is down" 9 "SELECT count(*) FROM routing.assignment"

start_service router
must "the restarted router is ready" 60 ready router
must "router assigned all 12 dossiers after its restart" 30 sql_is 12 "SELECT count(*) FROM routing.assignment"
must "deadline has 12 assigned clocks" 30 \
    sql_is 12 "SELECT count(*) FROM deadline.clock WHERE received AND unit IS NOT NULL"
for x in W2-G W2-H W2-I W2-J W2-K W2-L; do
    CODE[$x]=$(dossier_code "$x")
done

e2e_log "wave 2: updates and ticks; kill -9 deadline after a breach, notify after a letter"
update_line "${CODE[W2-H]}" result_ready 2024-03-21T16:00:00+07:00 04795 | produce dossier.updates
wait_updates 7
tick 2024-03-21T18:00:00+07:00 || e2e_fail "motcua tick failed"
must "W2-G's breach is recorded" 30 \
    sql_is 1 "SELECT count(*) FROM deadline.ledger WHERE kind = 'overdue' AND dossier_code = $(q "${CODE[W2-G]}")"
kill9 deadline
e2e_pass "deadline killed -9 right after recording a breach (outbox and offsets maybe unsent)"
# Meanwhile the units go on: W2-K is finished in time.
update_line "${CODE[W2-K]}" result_ready 2024-03-26T10:00:00+07:00 PTCKH | produce dossier.updates
start_service deadline
must "the restarted deadline service is ready" 60 ready deadline
must "the restarted deadline service swept to 21 March 18:00" 30 swept_to 2024-03-21T18:00:00+07:00
wait_updates 8
for day in 22 23 24; do
    day_tick "2024-03-${day}T18:00:00+07:00"
done
tick 2024-03-25T18:00:00+07:00 || e2e_fail "motcua tick failed"
must "W2-J's letter is written" 30 \
    sql_is 1 "SELECT count(*) FROM notify.letter WHERE dossier_code = $(q "${CODE[W2-J]}")"
kill9 notify
e2e_pass "notify killed -9 right after writing a letter (outbox and offsets maybe unsent)"
start_service notify
must "the restarted notify service is ready" 60 ready notify
must "deadline swept to 25 March 18:00" 30 swept_to 2024-03-25T18:00:00+07:00
for day in 26 27; do
    day_tick "2024-03-${day}T18:00:00+07:00"
done
must "intake saw both duplicates" 30 metric_is 2 motcua_intake_submissions_duplicate_total intake
must "notify wrote 8 letters in all" 30 sql_is 8 "SELECT count(*) FROM notify.letter"
must "all outboxes are empty" 30 outboxes_empty

# ---- final assertions: nothing lost, nothing doubled --------------------------
e2e_log "final assertions"
load_topics submission.rejected dossier.received dossier.assigned dossier.deadlines \
    notifications deadletter || e2e_fail "could not read the topics"

check_sql "12 dossiers (two duplicates created nothing)" 12 "SELECT count(*) FROM intake.dossier"
check_sql "each submission received once" 0 \
    "SELECT count(*) FROM (SELECT 1 FROM intake.dossier GROUP BY source, external_id HAVING count(*) > 1) x"
check_sql "12 assignments, one per dossier" "12 12" \
    "SELECT count(*) || ' ' || count(DISTINCT dossier_code) FROM routing.assignment"
check_sql "12 clocks, one per dossier" "12 12" \
    "SELECT count(*) || ' ' || count(DISTINCT dossier_code) FROM deadline.clock"
check_sql "5 rejections (4 invalid, 1 unreadable)" 5 "SELECT count(*) FROM intake.rejection"
check_eq "W2-BAD-EMPTY rejected naming /applicant/name and /procedure_code" \
    "/applicant/name /procedure_code" "$(rejected_paths W2-BAD-EMPTY)"
for x in W2-G W2-H W2-I W2-J W2-K W2-L; do
    check_sql "$x assigned to ${UNIT[$x]}" "${UNIT[$x]}" \
        "SELECT string_agg(unit_code, ',') FROM routing.assignment WHERE dossier_code = $(q "${CODE[$x]}")"
done
check_sql "ledger: 8 breaches, each once" \
    "W1-B overdue,W1-D overdue,W1-D overdue-rescheduled,W1-E overdue,W2-G overdue,W2-I overdue,W2-J overdue,W2-L overdue" \
    "SELECT string_agg(d.external_id || ' ' || l.rung, ',' ORDER BY d.external_id, l.rung)
       FROM deadline.ledger l JOIN intake.dossier d ON d.code = l.dossier_code WHERE l.kind = 'overdue'"
check_sql "ledger: no rung fired twice" 0 \
    "SELECT count(*) FROM (SELECT 1 FROM deadline.ledger GROUP BY dossier_code, rung HAVING count(*) > 1) x"
check_sql "warnings fired only for dossiers open at their warning time (none for W1-C, W2-H, W2-K)" 0 \
    "SELECT count(*) FROM deadline.ledger l JOIN intake.dossier d ON d.code = l.dossier_code
      WHERE l.kind = 'warning' AND d.external_id IN ('W1-C', 'W2-H', 'W2-K')"
check_sql "8 letters, one per dossier and breach" "8 8" \
    "SELECT count(*) || ' ' || count(DISTINCT (dossier_code, breach)) FROM notify.letter"
check_sql "letter numbers are distinct" 8 "SELECT count(DISTINCT document_number) FROM notify.letter"
check_sql "clocks of W2-H and W2-K finished" "W2-H finished,W2-K finished" \
    "SELECT string_agg(d.external_id || ' ' || c.state, ',' ORDER BY d.external_id)
       FROM deadline.clock c JOIN intake.dossier d ON d.code = c.dossier_code
      WHERE d.external_id IN ('W2-H', 'W2-K')"

# Events per dossier and topic, deduplicated by event_id.
check_empty "dossier.received: one distinct event per dossier" \
    "SELECT d.code, count(DISTINCT m.payload->>'event_id') FROM intake.dossier d
       LEFT JOIN e2e.msg m ON m.topic = 'dossier.received' AND m.payload->>'dossier_code' = d.code
      GROUP BY d.code HAVING count(DISTINCT m.payload->>'event_id') <> 1"
check_empty "dossier.assigned: one distinct event per dossier, for its unit" \
    "SELECT d.code, count(DISTINCT m.payload->>'event_id') FROM intake.dossier d
       JOIN routing.assignment a ON a.dossier_code = d.code
       LEFT JOIN e2e.msg m ON m.topic = 'dossier.assigned' AND m.payload->>'dossier_code' = d.code
        AND m.payload->'data'->'unit'->>'code' = a.unit_code
      GROUP BY d.code HAVING count(DISTINCT m.payload->>'event_id') <> 1"
check_sql "no event on a dossier topic for an unknown dossier" 0 \
    "SELECT count(*) FROM e2e.msg m WHERE m.topic IN ('dossier.received', 'dossier.assigned', 'dossier.deadlines', 'notifications')
        AND NOT EXISTS (SELECT 1 FROM intake.dossier d WHERE d.code = m.payload->>'dossier_code')"
check_sql "totals of distinct events: received, assigned, overdue, letters, rejected, dead letters" \
    "12 12 8 8 5 1" \
    "SELECT (SELECT count(DISTINCT payload->>'event_id') FROM e2e.msg WHERE topic = 'dossier.received')
      || ' ' || (SELECT count(DISTINCT payload->>'event_id') FROM e2e.msg WHERE topic = 'dossier.assigned')
      || ' ' || (SELECT count(DISTINCT payload->>'event_id') FROM e2e.msg WHERE topic = 'dossier.deadlines' AND payload->>'type' = 'dossier.overdue')
      || ' ' || (SELECT count(DISTINCT payload->>'event_id') FROM e2e.msg WHERE topic = 'notifications'
                 AND payload->>'type' = 'notification.letter')
      || ' ' || (SELECT count(DISTINCT payload->>'event_id') FROM e2e.msg WHERE topic = 'submission.rejected')
      || ' ' || (SELECT count(DISTINCT payload->>'event_id') FROM e2e.msg WHERE topic = 'deadletter')"
check_sql "notices to the units: one first attempt each, one request for an explanation per letter" \
    "0 8" \
    "SELECT (SELECT count(*) FROM notify.notice n WHERE (SELECT count(DISTINCT payload->>'event_id')
               FROM e2e.msg m WHERE m.topic = 'notifications' AND m.payload->>'type' = 'notification.notice'
                AND m.payload->'data'->>'notification_id' = n.notification_id::text
                AND m.payload->'data'->>'attempt' = '1') <> 1)
      || ' ' || (SELECT count(*) FROM notify.notice WHERE kind = 'explanation-request')"
check_empty "a re-sent event is the same event (same event_id, same payload)" \
    "SELECT topic, payload->>'event_id' FROM e2e.msg GROUP BY 1, 2 HAVING count(DISTINCT payload) > 1"
letters_ok W1-A W1-B W1-C W1-D W1-E W1-F W2-G W2-H W2-I W2-J W2-K W2-L
e2e_log "redelivered events skipped by the inboxes of the restarted services: router $(metric motcua_router_duplicates_total router), deadline $(metric motcua_deadline_duplicates_total deadline), notify $(metric motcua_notify_duplicates_total notify)"
e2e_log "re-sent copies seen on the topics (allowed after a crash): $(sql "SELECT coalesce(string_agg(topic || ' ' || n, ', '), 'none')
    FROM (SELECT topic, count(*) - count(DISTINCT payload->>'event_id') AS n FROM e2e.msg GROUP BY topic) x WHERE n > 0")"

# ---- delivery receipts -----------------------------------------------------------
# The sender reports back on two letters: one delivered, one bounced with
# the SMTP reply naming the recipient's address (personal data, checked
# below with the rest).
mapfile -t receipt_ids < <(sql "SELECT notification_id || '|' || dossier_code FROM notify.letter
    ORDER BY document_number LIMIT 2")
bounced_to="e2e.nguoinhan.$$@example.vn"
receipt_line() { # receipt_line ID|CODE STATUS DETAIL
    printf '%s\t{"event_id":"%s","type":"notification.receipt","occurred_at":"2024-03-28T09:00:00+07:00","producer":"e2e-sender","dossier_code":"%s","data":{"notification_id":"%s","delivery_channel":"email","status":"%s","detail":"%s"}}\n' \
        "${1#*|}" "$(uuid)" "${1#*|}" "${1%%|*}" "$2" "$3"
}
{
    receipt_line "${receipt_ids[0]}" delivered "250 2.0.0 OK"
    receipt_line "${receipt_ids[1]}" bounced "550 5.1.1 <$bounced_to>: Recipient address rejected"
} | produce notification.receipts
must "notify recorded both receipts" 30 sql_is 2 "SELECT count(*) FROM notify.delivery"
check_eq "the delivered letter is delivered" delivered \
    "$(sql "SELECT status FROM notify.letter WHERE notification_id = $(q "${receipt_ids[0]%%|*}")")"
# A bounce (v1's word for a permanent failure) moves the letter to its next
# channel at once: attempt 2 of the same notification.
check_eq "the bounced letter is sent again on its next channel (attempt 2)" "created 2 true" \
    "$(sql "SELECT status || ' ' || attempt || ' ' || (delivery_channel = channels[2])
        FROM notify.letter WHERE notification_id = $(q "${receipt_ids[1]%%|*}")")"
shown=$(mc notification show "${receipt_ids[1]%%|*}" 2>&1)
check "motcua notification show: attempt 1, its bounce in the sender's words, then attempt 2" \
    grep -qz "attempt 1 .*started (first).*attempt 1 .*permanent-failure: 550 5.1.1.*attempt 2 .*started (fallback)" <<<"$shown"
check "motcua notification show --dossier CODE finds it" \
    grep -q "^notification ${receipt_ids[1]%%|*}$" <<<"$(mc notification show --dossier "${receipt_ids[1]#*|}" 2>&1)"
mc notification show 00000000-0000-4000-8000-000000000000 >/dev/null 2>&1
check_eq "motcua notification show: an unknown id exits 1" 1 "$?"

# ---- the read side --------------------------------------------------------------
# motcua-api's projection, fed only from the topics, agrees with the
# pipeline's own tables, and answers the citizen's lookup.
must "motcua-api has folded in every dossier, assignment, letter and receipt" 60 sql_true \
    "SELECT (SELECT count(*) FROM api.dossier WHERE id_check IS NOT NULL AND unit_code IS NOT NULL)
            = (SELECT count(*) FROM intake.dossier)
        AND (SELECT count(*) FROM api.letter WHERE issued_at IS NOT NULL)
            = (SELECT count(*) FROM notify.letter)
        AND (SELECT count(*) FROM api.letter WHERE delivery <> 'sent') = 2"
check_empty "api: each dossier at the router's unit, with the deadline's due date, late exactly when a breach fired" \
    "SELECT d.code FROM intake.dossier d JOIN routing.assignment a ON a.dossier_code = d.code
       JOIN deadline.clock c ON c.dossier_code = d.code LEFT JOIN api.dossier p ON p.code = d.code
      WHERE p.code IS NULL OR p.unit_code <> a.unit_code OR p.late <> (c.breaches > 0)
         OR p.due_at <> c.due_at"
check_empty "api: each letter with notify's number and delivery state" \
    "SELECT l.notification_id FROM notify.letter l LEFT JOIN api.letter p USING (notification_id)
      WHERE p.notification_id IS NULL OR p.document_number <> l.document_number
         OR p.delivery <> CASE WHEN l.attempt > 1 THEN p.delivery
                               WHEN l.status = 'created' THEN 'sent' ELSE l.status END"
IFS='|' read -r lookup_code lookup_id < <(sql "SELECT code, submission->'applicant'->>'id_number'
    FROM intake.dossier ORDER BY code LIMIT 1")
api_url=http://127.0.0.1:${E2E_PORT[api]}
check "GET /v1/dossiers/{code} with the applicant's id number answers the dossier" \
    grep -q "\"code\": *\"$lookup_code\"" <<<"$(curl -fsS "$api_url/v1/dossiers/$lookup_code?id_number=$lookup_id")"
check_eq "... and 404 with another id number" 404 \
    "$(curl -sS -o /dev/null -w '%{http_code}' "$api_url/v1/dossiers/$lookup_code?id_number=000000000000")"

# ---- a dead letter replayed after a fix ---------------------------------------
# A unit's software transfers a dossier to a unit the catalog does not have
# yet: the router dead-letters the transfer. The operator finds it with
# `motcua deadletter list`, reads it with `show`, adds the unit, restarts the
# router and replays it: the dossier moves. A second replay sends nothing; a
# forced one is sent, and the router skips it (its inbox).
dl_code=$(sql "SELECT dossier_code FROM routing.assignment ORDER BY dossier_code LIMIT 1")
dl_from=$(sql "SELECT unit_code FROM routing.assignment WHERE dossier_code = $(q "$dl_code")")
printf '%s\t{"event_id":"%s","type":"dossier.update","occurred_at":"2024-03-28T10:00:00+07:00","producer":"e2e-unit-software","dossier_code":"%s","data":{"status":"transfer","unit_code":"%s","officer":"Cán bộ E2E","reason":"Chuyển liên thông","to_unit_code":"E2E-NEW"}}\n' \
    "$dl_code" "$(uuid)" "$dl_code" "$dl_from" | produce dossier.updates
router_dead_letter() {
    mc deadletter list --consumer motcua-router 2>/dev/null |
        awk -F'\t' -v c="$dl_code" '$4 == c && $6 ~ /E2E-NEW/ { print $1 }' | tail -n1
}
has_router_dead_letter() { [ -n "$(router_dead_letter)" ]; }
must "motcua deadletter list shows the router's dead letter of the transfer, with why" 30 \
    has_router_dead_letter
dl_id=$(router_dead_letter)
check "motcua deadletter show prints it with the original message" \
    grep -q 'to_unit_code.*E2E-NEW' <<<"$(mc deadletter show "$dl_id" 2>/dev/null)"
sql "INSERT INTO catalog.unit (code, name, kind, agency_id, head_title, head_name)
     VALUES ('E2E-NEW', 'Phòng Thử nghiệm', 'department', '000.99.26.H17', 'Trưởng phòng',
             'Lê Văn Thử')" >/dev/null
stop_proc router 30
start_service router
must "motcua-router is ready again after the catalog fix" 60 ready router
check "motcua deadletter replay sends it again" \
    grep -q "^replayed $dl_id" <<<"$(mc deadletter replay "$dl_id" 2>>"$E2E_TMP/cli.log")"
must "the replayed transfer moved the dossier to the new unit" 30 \
    sql_is E2E-NEW "SELECT unit_code FROM routing.assignment WHERE dossier_code = $(q "$dl_code")"
check "a second replay sends nothing" \
    grep -q "replayed already" <<<"$(mc deadletter replay "$dl_id" 2>>"$E2E_TMP/cli.log")"
check "replay --force sends it again" \
    grep -q "^replayed $dl_id" <<<"$(mc deadletter replay "$dl_id" --force 2>>"$E2E_TMP/cli.log")"
must "the router skipped the forced copy (inbox)" 30 \
    metric_is 1 motcua_router_duplicates_total router
check_sql "one transfer of the dossier after two replays of its dead letter" "1 2" \
    "SELECT (SELECT count(*) FROM routing.transfer WHERE dossier_code = $(q "$dl_code"))
      || ' ' || (SELECT replays FROM ops.deadletter_replay WHERE deadletter_id = $(q "$dl_id"))"
check_eq "motcua deadletter list marks it replayed" 1 \
    "$(mc deadletter list 2>/dev/null | grep -c "^$dl_id.*replayed .*(2 times)$")"

# ---- motcua status --------------------------------------------------------------
status_args=()
for svc in "${SERVICES[@]}"; do
    status_args+=(--http "http://127.0.0.1:${E2E_PORT[$svc]}")
done
# Exit 0 (nothing needs a look) and every group Stable, with a member and
# nothing waiting.
status_ok() {
    mc status "${status_args[@]}" >"$E2E_TMP/status.txt" 2>>"$E2E_TMP/cli.log" &&
        [ "$(awk '$2 ~ /^motcua-/ && $3 == "Stable" && $4 >= 1 && $5 == 0' "$E2E_TMP/status.txt" |
            wc -l)" -eq "${#SERVICES[@]}" ]
}
wait_for "motcua status: every service's group stable with a member, no lag, every instance ready" \
    60 status_ok && e2e_pass "motcua status: every service's group stable, no lag, all ready"
# This test runs no sender: the reference sender is optional (a city may
# have senders of its own), listed, and needs no look when it never ran.
check "motcua status lists the reference sender as not running, optional" \
    grep -q "^sender .*not running (optional)" "$E2E_TMP/status.txt"
check_eq "motcua status counts the dead letters on the topic" 1 \
    "$(grep -cE '^dead letters: [0-9]+ on the topic' "$E2E_TMP/status.txt")"
status_names_dead_instance() {
    local out rc=0
    out=$(mc status --http http://127.0.0.1:9 2>/dev/null) || rc=$?
    [ "$rc" -eq 1 ] && grep -q '^http://127.0.0.1:9: NOT READY' <<<"$out"
}
check "motcua status names an instance that does not answer and exits 1" \
    status_names_dead_instance

# ---- personal data -------------------------------------------------------------
# Every applicant's name, id number, phone, e-mail and address, every
# officer, and the address in a bounce receipt, sent in this run (accepted,
# rejected, dead-lettered, late with a letter, reported back) must appear in
# no service log and no /metrics.
for svc in "${SERVICES[@]}"; do
    curl -fsS --max-time 5 "http://127.0.0.1:${E2E_PORT[$svc]}/metrics" >"$E2E_TMP/$svc.metrics" ||
        e2e_fail "GET /metrics of motcua-$svc"
done
{
    grep -oE '"(name|id_number|phone|email|address|officer)":"[^"]+"' "$E2E_TMP/produced.tsv" |
        sed -e 's/^"[a-z_]*":"//' -e 's/"$//'
    printf '%s\n' "$bounced_to" # inside a receipt's detail
} | sort -u >"$E2E_TMP/personal.txt"
check "the personal-data check covers what was sent (at least 30 distinct values)" \
    test "$(wc -l <"$E2E_TMP/personal.txt")" -ge 30

# ---- monitoring ----------------------------------------------------------------
# Every service's /metrics passes promtool's lint, and every metric the
# alert rules and the Grafana dashboard name is one the services export
# (a regex family such as motcua_[a-z]+_ready: exported by every service).
promtool_lint() { promtool check metrics <"$1"; }
for svc in "${SERVICES[@]}"; do
    check "motcua-$svc's /metrics passes promtool check metrics" \
        promtool_lint "$E2E_TMP/$svc.metrics"
done
exported=$(sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$E2E_TMP"/*.metrics | sort -u)
monitoring=("$root/deploy/prometheus/alerts.yml" "$root/deploy/grafana/motcua.json")
missing_metrics=()
mapfile -t names < <(grep -ohE 'motcua_[a-z_]+[a-z]' "${monitoring[@]}" | sort -u)
mapfile -t suffixes < <(grep -ohE 'motcua_\[a-z\]\+_[a-z_]+' "${monitoring[@]}" |
    sed 's/^motcua_\[a-z\]+_//' | sort -u)
for name in "${names[@]}"; do
    grep -qx "$(sed -E 's/_(bucket|sum|count)$//' <<<"$name")" <<<"$exported" ||
        missing_metrics+=("$name")
done
for suffix in "${suffixes[@]}"; do
    for svc in "${SERVICES[@]}"; do
        grep -qx "motcua_${svc}_$(sed -E 's/_(bucket|sum|count)$//' <<<"$suffix")" <<<"$exported" ||
            missing_metrics+=("motcua_${svc}_$suffix")
    done
done
check_eq "every metric the alerts and the dashboard name is exported" "" "${missing_metrics[*]}"
check_eq "intake's consumer lag: one series per partition of the submissions, each 0" 3 \
    "$(grep -cE '^motcua_intake_consumer_lag\{topic="e2e-[0-9]+\.submissions",partition="[0-2]"\} 0$' \
        "$E2E_TMP/intake.metrics")"

# ---- stop ----------------------------------------------------------------------
e2e_log "stopping the services (SIGTERM)"
for svc in "${SERVICES[@]}"; do
    kill -TERM "${E2E_PID[$svc]}" 2>/dev/null || true
done
for svc in "${SERVICES[@]}"; do
    stop_proc "$svc" 30
    check_eq "motcua-$svc drained and exited 0 within 30 s of SIGTERM" 0 "$?"
done
if [ -n "${E2E_PID[devkafka]:-}" ]; then
    stop_proc devkafka 30
    check_eq "motcua-devkafka exited 0 on SIGTERM" 0 "$?"
fi
# After the stop, so the drain's lines are in the logs too.
leaked=$(cd "$E2E_TMP" && grep -F -o -f personal.txt intake.log router.log deadline.log notify.log \
    api.log intake.metrics router.metrics deadline.metrics notify.metrics api.metrics |
    sort -u | tr '\n' ';')
check_eq "no personal data in any service log or /metrics" "" "$leaked"
