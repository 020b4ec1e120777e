# shellcheck shell=bash
# Helpers of the end-to-end test (tests/e2e/pipeline.sh): assertions, waiting
# on conditions, starting and stopping the processes the test owns (by pid),
# SQL through psql, and topics loaded into SQL for assertions. Sourced only;
# defines functions and variables, starts nothing.
#
# Needs: bash, coreutils, psql, curl and the motcua CLI (no jq).

E2E_PASSED=0
E2E_FAILED=0
E2E_FAILURES=()
declare -A E2E_PID=()  # name -> pid of a process the test started
declare -A E2E_PORT=() # service -> HTTP port

e2e_log() { printf '[e2e %4ss] %s\n' "$SECONDS" "$*" >&2; }

# e2e_exit STATUS: prints the summary line ("e2e: N passed, M failed (S s)",
# counted from when this file was sourced) and exits with STATUS. The end of
# every test's exit trap.
E2E_STARTED=$SECONDS
e2e_exit() {
    printf 'e2e: %d passed, %d failed (%d s)\n' "$E2E_PASSED" "$E2E_FAILED" \
        "$((SECONDS - E2E_STARTED))"
    exit "$1"
}

# e2e_verdict: 0 when something passed and nothing failed; else lists the
# failures and returns 1 (for the exit traps).
e2e_verdict() {
    if [ "$E2E_FAILED" -eq 0 ] && [ "$E2E_PASSED" -gt 0 ]; then
        return 0
    fi
    [ "${#E2E_FAILURES[@]}" -eq 0 ] || printf '  - %s\n' "${E2E_FAILURES[@]}" >&2
    return 1
}

# e2e_traps FUNCTION: FUNCTION runs at exit (it ends with e2e_exit); an
# interrupt or SIGTERM exits 130 or 143 through it.
e2e_traps() {
    # shellcheck disable=SC2064 # the function's name, now
    trap "$1" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# e2e_binaries DIR: where the programs are. DIR is a build tree
# (services/motcua-<svc>, tools/motcua, tools/motcua-devkafka) or an install
# prefix (bin/, as `cmake --install` lays it out). Sets E2E_SVC_DIR and
# E2E_TOOL_DIR; fails naming the first program missing.
e2e_binaries() {
    local dir prog
    dir=$(cd "$1" && pwd) || return 1
    if [ -x "$dir/bin/motcua-intake" ]; then
        E2E_SVC_DIR=$dir/bin E2E_TOOL_DIR=$dir/bin
    else
        E2E_SVC_DIR=$dir/services E2E_TOOL_DIR=$dir/tools
    fi
    for prog in "$E2E_SVC_DIR"/motcua-{intake,router,deadline,notify,api,sender} \
        "$E2E_TOOL_DIR"/motcua "$E2E_TOOL_DIR"/motcua-devkafka; do
        if [ ! -x "$prog" ]; then
            echo "e2e: $prog is not built" >&2
            return 1
        fi
    done
}

# e2e_copy_source ROOT DEST: the files git tracks in ROOT (and new ones it
# does not ignore), copied to DEST: what a fresh clone would build.
e2e_copy_source() {
    mkdir -p "$2" &&
        (cd "$1" && git ls-files -z --cached --others --exclude-standard |
            xargs -0 cp --parents -t "$2")
}

e2e_pass() {
    E2E_PASSED=$((E2E_PASSED + 1))
    printf '  ok   %s\n' "$1" >&2
}

e2e_fail() {
    E2E_FAILED=$((E2E_FAILED + 1))
    E2E_FAILURES+=("$1")
    printf '  FAIL %s\n' "$1" >&2
}

# check DESCRIPTION COMMAND [ARG...]: passes when the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then e2e_pass "$what"; else e2e_fail "$what"; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
    if [ "$2" == "$3" ]; then
        e2e_pass "$1"
    else
        e2e_fail "$1: expected '$2', got '$3'"
    fi
}

# check_sql DESCRIPTION EXPECTED SQL: the single value SQL returns.
check_sql() {
    check_eq "$1" "$2" "$(sql "$3")"
}

# check_empty DESCRIPTION SQL: SQL returns no rows (the rows are the problems).
check_empty() {
    local out
    out=$(sql "$2")
    if [ -z "$out" ]; then
        e2e_pass "$1"
    else
        e2e_fail "$1; offending rows: $(tr '\n' ';' <<<"$out")"
    fi
}

# wait_for DESCRIPTION TIMEOUT_S COMMAND [ARG...]: polls the command every
# 0.1 s until it succeeds. On timeout, records a failure and returns 1.
wait_for() {
    local what=$1 timeout=$2 end
    shift 2
    end=$((SECONDS + timeout))
    until "$@" 2>/dev/null; do
        if [ "$SECONDS" -ge "$end" ]; then
            e2e_fail "timed out after ${timeout} s waiting for: $what"
            return 1
        fi
        sleep 0.1
    done
    return 0
}

# must DESCRIPTION TIMEOUT_S COMMAND...: like wait_for, but the test cannot
# go on without it: fails the whole run.
must() {
    wait_for "$@" || e2e_abort "cannot go on"
}

# ---- PostgreSQL ------------------------------------------------------------

# sql QUERY: runs QUERY on the test database, prints unaligned tuples.
sql() {
    psql -X -q -v ON_ERROR_STOP=1 -At -F '|' -d "$E2E_DB_URL" -c "$1"
}

# sql_admin QUERY: on the maintenance database of MOTCUA_TEST_PG_URL.
sql_admin() {
    psql -X -q -v ON_ERROR_STOP=1 -At -d "$MOTCUA_TEST_PG_URL" -c "$1"
}

# sql_is EXPECTED QUERY: 0 when QUERY returns exactly EXPECTED (for wait_for).
sql_is() {
    [ "$(sql "$2" 2>/dev/null)" == "$1" ]
}

# sql_true QUERY: 0 when QUERY returns t.
sql_true() {
    [ "$(sql "$1" 2>/dev/null)" == t ]
}

# e2e_database NAME: a database of the test's own on the cluster of
# MOTCUA_TEST_PG_URL (the caller creates and drops it): sets E2E_DB and
# E2E_DB_URL (the superuser's); service_pg_url SERVICE is the URL of the
# service's own role (migration 008_roles.sql; the test cluster trusts
# 127.0.0.1).
e2e_database() {
    local base=${MOTCUA_TEST_PG_URL%%\?*} hostport
    E2E_DB=$1
    E2E_PG_QUERY=${MOTCUA_TEST_PG_URL#"$base"}
    E2E_DB_URL=${base%/*}/$E2E_DB$E2E_PG_QUERY
    E2E_PG_SCHEME=${base%%://*}
    hostport=${base#*://}
    hostport=${hostport#*@}
    E2E_PG_HOSTPORT=${hostport%%/*}
}
service_pg_url() {
    printf '%s://motcua_%s@%s/%s%s\n' "$E2E_PG_SCHEME" "$1" "$E2E_PG_HOSTPORT" "$E2E_DB" \
        "$E2E_PG_QUERY"
}

# e2e_broker PREFIX: the broker the test runs on, exported in MOTCUA_KAFKA_*:
# the Apache Kafka of tests/run (MOTCUA_TEST_KAFKA_BROKERS), with the topics
# of the table made under PREFIX by `motcua topics apply` (its output in
# $E2E_TMP/topics.log; returns its status); else (MOTCUA_BROKER=devkafka) a
# motcua-devkafka of the test's own.
e2e_broker() {
    if [ -n "${MOTCUA_TEST_KAFKA_BROKERS:-}" ]; then
        export MOTCUA_KAFKA_BROKERS=$MOTCUA_TEST_KAFKA_BROKERS
        export MOTCUA_TOPIC_PREFIX=$1
        export MOTCUA_KAFKA_PROPS="session.timeout.ms=6000,heartbeat.interval.ms=1000"
        mc topics apply >"$E2E_TMP/topics.log" 2>&1
        return
    fi
    export MOTCUA_KAFKA_PROPS="session.timeout.ms=6000,heartbeat.interval.ms=1000,fetch.wait.max.ms=20"
    start_proc devkafka "$E2E_TMP/devkafka.log" "$E2E_TOOL_DIR/motcua-devkafka" \
        --bootstrap-file "$E2E_TMP/bootstrap" --partitions 3
    must "motcua-devkafka writes its bootstrap list" 30 test -s "$E2E_TMP/bootstrap"
    MOTCUA_KAFKA_BROKERS=$(tr -d ' \n' <"$E2E_TMP/bootstrap")
    export MOTCUA_KAFKA_BROKERS
}

# q TEXT: TEXT as an SQL string literal.
q() {
    printf "'%s'" "${1//\'/\'\'}"
}

# ---- processes ---------------------------------------------------------------

# start_proc NAME LOGFILE COMMAND [ARG...]: starts COMMAND in the background
# (exec'd, so the pid is the program's own) and remembers its pid.
start_proc() {
    local name=$1 log=$2
    shift 2
    "$@" </dev/null >>"$log" 2>&1 &
    E2E_PID[$name]=$!
}

# alive PID: the process exists and is not a zombie.
alive() {
    local state
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# kill9 NAME: SIGKILL and reap; the pid is forgotten.
kill9() {
    local pid=${E2E_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "E2E_PID[$1]"
}

# stop_proc NAME [TIMEOUT_S]: SIGTERM, waits up to TIMEOUT_S (default 30) for
# the exit, then SIGKILL. Returns the exit status (137 after SIGKILL, 124 when
# it did not stop in time).
stop_proc() {
    local name=$1 timeout=${2:-30} pid end rc=0
    pid=${E2E_PID[$name]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    end=$((SECONDS + timeout))
    while alive "$pid" && [ "$SECONDS" -lt "$end" ]; do
        sleep 0.1
    done
    if alive "$pid"; then
        e2e_log "$name (pid $pid) did not stop in ${timeout} s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null
        unset "E2E_PID[$name]"
        return 124
    fi
    wait "$pid" 2>/dev/null || rc=$?
    unset "E2E_PID[$name]"
    return "$rc"
}

# stop_all: every process still known, SIGTERM in parallel, then SIGKILL after
# 30 s. For the exit trap: statuses are not judged here.
stop_all() {
    local name pid end names=()
    # The services first, the broker last (services that lose their broker
    # while draining take longer to stop).
    for name in "${!E2E_PID[@]}"; do
        [ "$name" == devkafka ] || names+=("$name")
    done
    [ -z "${E2E_PID[devkafka]:-}" ] || names+=(devkafka)
    for name in "${names[@]}"; do
        [ "$name" == devkafka ] || kill -TERM "${E2E_PID[$name]}" 2>/dev/null || true
    done
    end=$((SECONDS + 30))
    for name in "${names[@]}"; do
        if [ "$name" == devkafka ]; then
            kill -TERM "${E2E_PID[$name]}" 2>/dev/null || true
            end=$((SECONDS + 10))
        fi
        pid=${E2E_PID[$name]}
        while alive "$pid" && [ "$SECONDS" -lt "$end" ]; do
            sleep 0.1
        done
        if alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        unset "E2E_PID[$name]"
    done
}

# ---- the services --------------------------------------------------------------

# start_service NAME: starts motcua-NAME with the test's environment, as the
# database role service_pg_url NAME gives; its HTTP port is read once it has
# written its port file.
start_service() {
    local svc=$1
    rm -f "$E2E_TMP/$svc.port"
    start_proc "$svc" "$E2E_TMP/$svc.log" env -u MOTCUA_HTTP_PORT -u MOTCUA_GROUP_ID \
        MOTCUA_PG_URL="$(service_pg_url "$svc")" \
        MOTCUA_HTTP_PORT_FILE="$E2E_TMP/$svc.port" "$E2E_SVC_DIR/motcua-$svc"
}

# ready NAME: the service answers 200 on /readyz (and its port is known).
ready() {
    local svc=$1 port
    alive "${E2E_PID[$svc]:-0}" || return 1
    port=$(cat "$E2E_TMP/$svc.port" 2>/dev/null) || return 1
    [ -n "$port" ] || return 1
    E2E_PORT[$svc]=$port
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz"
}

# metric NAME SERVICE: the value of an unlabelled metric (empty if absent).
metric() {
    curl -fsS --max-time 2 "http://127.0.0.1:${E2E_PORT[$2]}/metrics" 2>/dev/null |
        sed -n "s/^$1 \([-+0-9.eE]*\)$/\1/p" | head -n1
}

# metric_is VALUE NAME SERVICE: the metric has that value (for wait_for).
metric_is() {
    [ "$(metric "$2" "$3")" == "$1" ]
}

# swept_to RFC3339: the deadline service has fired every clock due by then.
swept_to() {
    local want have
    want=$(date -d "$1" +%s) || return 1
    have=$(metric motcua_deadline_swept_until_seconds deadline)
    [ -n "$have" ] || return 1
    have=${have%%.*}
    [ "$have" -ge "$want" ]
}

# ---- the CLI and topics ------------------------------------------------------------

mc() { "$E2E_TOOL_DIR/motcua" "$@"; }

# produce TOPIC < lines "KEY<TAB>VALUE"
produce() {
    # Every line sent is kept: the personal-data check greps the logs for it.
    tee -a "$E2E_TMP/produced.tsv" | mc produce "$1" 2>>"$E2E_TMP/cli.log"
}

# tick RFC3339: publishes a clock tick.
tick() {
    mc tick "$1" 2>>"$E2E_TMP/cli.log"
}

# load_topics TOPIC...: reads each topic from the beginning into e2e.msg
# (topic, key, payload jsonb, line number), replacing what was loaded before.
load_topics() {
    local topic file
    sql "SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS e2e;
         CREATE TABLE IF NOT EXISTS e2e.msg (topic text, key text, payload jsonb, n bigserial)" >/dev/null
    for topic in "$@"; do
        file=$E2E_TMP/topic.$topic
        mc consume "$topic" --keys --idle-ms 300 >"$file" 2>>"$E2E_TMP/cli.log" || return 1
        # CSV with a quote and delimiter that never occur: lines arrive verbatim
        # (text COPY would eat the backslashes of JSON escapes).
        psql -X -q -v ON_ERROR_STOP=1 -d "$E2E_DB_URL" \
            -c "DELETE FROM e2e.msg WHERE topic = $(q "$topic")" \
            -c "CREATE TEMP TABLE raw (key text, payload text)" \
            -c "\\copy raw FROM '$file' WITH (FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01')" \
            -c "INSERT INTO e2e.msg (topic, key, payload) SELECT $(q "$topic"), key, payload::jsonb FROM raw" ||
            return 1
    done
}

# dossier_code EXTERNAL_ID: the code intake gave the submission (source e2e).
dossier_code() {
    sql "SELECT code FROM intake.dossier WHERE source = 'e2e-portal' AND external_id = $(q "$1")"
}

# uuid: a random lower-case UUID.
uuid() {
    cat /proc/sys/kernel/random/uuid
}

# update_line CODE STATUS OCCURRED_AT UNIT [REASON [NEW_DUE_AT]]: one
# dossier.updates line "KEY<TAB>JSON".
update_line() {
    local code=$1 status=$2 at=$3 unit=$4 reason=${5:-} new_due=${6:-} extra=
    [ -z "$reason" ] || extra+=",\"reason\":\"$reason\""
    [ -z "$new_due" ] || extra+=",\"new_due_at\":\"$new_due\""
    printf '%s\t{"event_id":"%s","type":"dossier.update","occurred_at":"%s","producer":"e2e-unit-software","dossier_code":"%s","data":{"status":"%s","unit_code":"%s","officer":"Cán bộ E2E"%s}}\n' \
        "$code" "$(uuid)" "$at" "$code" "$status" "$unit" "$extra"
}

# e2e_abort MESSAGE: stops the run (the exit trap cleans up and reports).
e2e_abort() {
    e2e_fail "$1"
    exit 1
}

# dump_logs: the end of every log the test kept.
dump_logs() {
    local f
    for f in "$E2E_TMP"/*.log; do
        [ -f "$f" ] || continue
        printf '\n----- last 25 lines of %s -----\n' "$(basename "$f")" >&2
        tail -n 25 "$f" >&2
    done
}
